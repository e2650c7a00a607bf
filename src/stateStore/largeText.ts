/**
 * Storing text larger than Table Storage allows in one property (64 KiB = 32,768
 * UTF-16 code units) or one entity (1 MiB, 255 properties).
 *
 * The text is cut into parts of at most PART_CHARS code units (never between the two
 * halves of a surrogate pair), PARTS_PER_ENTITY parts per entity. The head entity
 * (partitionKey, rowKey) holds the first parts, the part count and the caller's own
 * properties; further entities are (partitionKey, `${rowKey}~1`), `~2`, …
 * Continuations are written before the head and deleted after it, so a head that can
 * be read always has all its parts.
 */
import type { EntityProperties, EntityStore, StoredEntity } from './entityStore';
import { StateStoreError } from './errors';

export const PART_CHARS = 30_000;
export const PARTS_PER_ENTITY = 12;
const CONTINUATION = '~';

/** Row keys of continuation entities contain '~'; callers' row keys must not. */
export function isContinuationRow(rowKey: string): boolean {
  return rowKey.includes(CONTINUATION);
}

export function splitText(text: string, partChars = PART_CHARS): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    let end = Math.min(i + partChars, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    parts.push(text.slice(i, end));
    i = end;
  }
  return parts.length ? parts : [''];
}

const partName = (n: number): string => `Part${n}`;

/** Writes `text` under (partitionKey, rowKey) with `properties` on the head entity; returns the head's ETag. */
export async function writeLargeText(
  store: EntityStore,
  partitionKey: string,
  rowKey: string,
  text: string,
  properties: EntityProperties = {},
): Promise<string> {
  if (isContinuationRow(rowKey)) {
    throw new StateStoreError(
      `Row key '${rowKey}' must not contain '${CONTINUATION}' (reserved for continuation rows).`,
    );
  }
  const parts = splitText(text);
  const entityCount = Math.ceil(parts.length / PARTS_PER_ENTITY);
  for (let e = entityCount - 1; e >= 1; e--) {
    await store.upsert(partitionKey, `${rowKey}${CONTINUATION}${e}`, partsOf(parts, e));
  }
  return store.upsert(partitionKey, rowKey, {
    ...properties,
    ...partsOf(parts, 0),
    PartCount: parts.length,
  });
}

/** Reassembles the text of a head entity read from the store. */
export async function readLargeText(store: EntityStore, head: StoredEntity): Promise<string> {
  const count = Number(head.properties.PartCount);
  if (!Number.isInteger(count) || count < 1) {
    throw new StateStoreError(
      `State store ${store.description}: entity '${head.partitionKey}/${head.rowKey}' has no valid PartCount.`,
    );
  }
  const pieces: string[] = [];
  let entity: StoredEntity | undefined = head;
  for (let n = 0; n < count; n++) {
    const e = Math.floor(n / PARTS_PER_ENTITY);
    if (n % PARTS_PER_ENTITY === 0 && e > 0) {
      entity = await store.get(head.partitionKey, `${head.rowKey}${CONTINUATION}${e}`);
    }
    const piece = entity?.properties[partName(n)];
    if (typeof piece !== 'string') {
      throw new StateStoreError(
        `State store ${store.description}: part ${n} of '${head.partitionKey}/${head.rowKey}' is missing.`,
      );
    }
    pieces.push(piece);
  }
  return pieces.join('');
}

/** Deletes the head (conditionally, when `etag` is given), then its continuations. */
export async function deleteLargeText(
  store: EntityStore,
  head: Pick<StoredEntity, 'partitionKey' | 'rowKey' | 'properties'>,
  etag?: string,
): Promise<void> {
  const count = Number(head.properties.PartCount) || 1;
  await store.delete(head.partitionKey, head.rowKey, etag);
  const entityCount = Math.ceil(count / PARTS_PER_ENTITY);
  for (let e = 1; e < entityCount; e++) {
    await store.delete(head.partitionKey, `${head.rowKey}${CONTINUATION}${e}`);
  }
}

function partsOf(parts: string[], entityIndex: number): EntityProperties {
  const props: EntityProperties = {};
  const first = entityIndex * PARTS_PER_ENTITY;
  for (let n = first; n < Math.min(first + PARTS_PER_ENTITY, parts.length); n++) props[partName(n)] = parts[n]!;
  return props;
}
