/**
 * A tiny evaluator for the few KQL forms the health alert rules use, to run an
 * alert's query on recorded rows. It is NOT a KQL engine: anything outside the
 * forms below throws, so a rule written otherwise fails its test instead of being
 * half-evaluated. The full query text is type-checked separately by the Kusto
 * language service (test/support/kusto.ts).
 *
 *   Table | where <pred> | ... | project <cols> | summarize A = countif(<pred>), B = max(Col) | where <pred>
 *   union isfuzzy=true (datatable(...)[]), (Table)      (rows of Table)
 *
 * Predicates: `and`, `or`, parentheses; `col == "s"`, `col =~ "s"`, `col in ("a", "b")`,
 * `col == 0` (numbers); `col > ago(26h)`, `ingestion_time() > ago(70m)` (units m, h, d).
 * A row's ingestion time is its `_ingested` field.
 */

export type Row = Record<string, unknown> & { _ingested?: string };
export type Tables = Record<string, Row[]>;

/** Removes `//` comments (outside strings) and trims. */
function stripComments(query: string): string {
  return query
    .split('\n')
    .map((line) => {
      let inString = false;
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '"') inString = !inString;
        if (!inString && line[i] === '/' && line[i + 1] === '/') return line.slice(0, i);
      }
      return line;
    })
    .join('\n')
    .trim();
}

/** Splits on `|` outside strings and parentheses. */
function splitPipes(query: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < query.length; i++) {
    const c = query[i];
    if (c === '"') inString = !inString;
    if (inString) continue;
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === '|' && depth === 0) {
      parts.push(query.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(query.slice(start).trim());
  return parts;
}

type Token = { kind: 'id' | 'str' | 'num' | 'op' | 'lp' | 'rp' | 'comma' | 'span'; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s*(?:(\d+[mhd])\b|(\d+(?:\.\d+)?)|("(?:[^"\\]|\\.)*")|(==|=~|!=|>=|<=|>|<)|(\()|(\))|(,)|([A-Za-z_][\w]*))/y;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new Error(`kqlSubset: cannot read '${text.slice(pos)}'`);
    pos = re.lastIndex;
    if (m[1]) tokens.push({ kind: 'span', text: m[1] });
    else if (m[2]) tokens.push({ kind: 'num', text: m[2] });
    else if (m[3]) tokens.push({ kind: 'str', text: JSON.parse(m[3]) as string });
    else if (m[4]) tokens.push({ kind: 'op', text: m[4] });
    else if (m[5]) tokens.push({ kind: 'lp', text: '(' });
    else if (m[6]) tokens.push({ kind: 'rp', text: ')' });
    else if (m[7]) tokens.push({ kind: 'comma', text: ',' });
    else tokens.push({ kind: 'id', text: m[8] });
  }
  return tokens;
}

const SPAN_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

type Pred = (row: Row) => boolean;

/** Parses a predicate into a function of a row, relative to `now`. */
export function predicate(text: string, now: Date): Pred {
  const t = tokenize(text);
  let i = 0;
  const peek = () => t[i];
  const take = (kind?: Token['kind'], value?: string): Token => {
    const tok = t[i++];
    if (!tok || (kind && tok.kind !== kind) || (value !== undefined && tok.text !== value))
      throw new Error(`kqlSubset: expected ${value ?? kind} in '${text}'`);
    return tok;
  };
  const operand = (): ((row: Row) => unknown) => {
    const tok = take();
    if (tok.kind === 'str') return () => tok.text;
    if (tok.kind === 'num') return () => Number(tok.text);
    if (tok.kind === 'id' && tok.text === 'ago') {
      take('lp');
      const span = take('span').text;
      take('rp');
      const ms = Number(span.slice(0, -1)) * SPAN_MS[span.slice(-1)];
      return () => new Date(now.getTime() - ms);
    }
    if (tok.kind === 'id' && tok.text === 'ingestion_time') {
      take('lp');
      take('rp');
      return (row) => (row._ingested ? new Date(row._ingested) : undefined);
    }
    if (tok.kind === 'id') return (row) => row[tok.text];
    throw new Error(`kqlSubset: unexpected '${tok.text}' in '${text}'`);
  };
  const comparison = (): Pred => {
    if (peek()?.kind === 'lp') {
      take('lp');
      const inner = or();
      take('rp');
      return inner;
    }
    const left = operand();
    const op = take();
    if (op.kind === 'id' && op.text === 'in') {
      take('lp');
      const values: unknown[] = [];
      for (;;) {
        values.push(operand()({}));
        if (peek()?.kind === 'comma') take('comma');
        else break;
      }
      take('rp');
      return (row) => values.includes(left(row));
    }
    if (op.kind !== 'op') throw new Error(`kqlSubset: unsupported operator '${op.text}' in '${text}'`);
    const right = operand();
    const asTime = (v: unknown) => (v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : NaN);
    switch (op.text) {
      case '==':
        return (row) => left(row) === right(row);
      case '!=':
        return (row) => left(row) !== right(row);
      case '=~':
        return (row) => String(left(row)).toLowerCase() === String(right(row)).toLowerCase();
      case '>':
        return (row) => asTime(left(row)) > asTime(right(row));
      default:
        throw new Error(`kqlSubset: unsupported operator '${op.text}' in '${text}'`);
    }
  };
  const and = (): Pred => {
    let p = comparison();
    while (peek()?.kind === 'id' && peek().text === 'and') {
      take();
      const l = p;
      const r = comparison();
      p = (row) => l(row) && r(row);
    }
    return p;
  };
  const or = (): Pred => {
    let p = and();
    while (peek()?.kind === 'id' && peek().text === 'or') {
      take();
      const l = p;
      const r = and();
      p = (row) => l(row) || r(row);
    }
    return p;
  };
  const result = or();
  if (i !== t.length) throw new Error(`kqlSubset: trailing '${t[i].text}' in '${text}'`);
  return result;
}

/** Splits `a, b(c, d), e` on top-level commas. */
function splitCommas(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    if (text[i] === ')') depth--;
    if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}

/** The rows `query` returns over `tables` at time `now`. */
export function run(query: string, tables: Tables, now: Date): Row[] {
  const [source, ...steps] = splitPipes(stripComments(query));
  let rows: Row[];
  const union = /^union isfuzzy=true\s*\(datatable\([^)]*\)\[\]\),\s*\((\w+)\)$/s.exec(source);
  if (union) rows = tables[union[1]] ?? [];
  else if (/^\w+$/.test(source)) rows = tables[source] ?? [];
  else throw new Error(`kqlSubset: unsupported source '${source}'`);
  for (const step of steps) {
    const [op, ...rest] = step.split(/\s+/);
    const body = step.slice(op.length).trim();
    if (op === 'where') rows = rows.filter(predicate(body, now));
    else if (op === 'project') rows = rows.map((r) => Object.fromEntries(splitCommas(body).map((c) => [c, r[c]])));
    else if (op === 'summarize') {
      if (/\bby\b/.test(body)) throw new Error(`kqlSubset: summarize ... by is not supported ('${step}')`);
      const out: Row = {};
      for (const agg of splitCommas(body)) {
        const m = /^(\w+)\s*=\s*(countif|max)\((.*)\)$/s.exec(agg);
        if (!m) throw new Error(`kqlSubset: unsupported aggregation '${agg}'`);
        const [, name, fn, arg] = m;
        if (fn === 'countif') out[name] = rows.filter(predicate(arg, now)).length;
        else
          out[name] = rows
            .map((r) => r[arg])
            .sort()
            .pop();
      }
      rows = [out];
    } else throw new Error(`kqlSubset: unsupported operator '${op}' (${rest.length} words)`);
  }
  return rows;
}
