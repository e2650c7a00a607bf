/**
 * scripts/uninstall.sh against a stand-in `az` on PATH (a shell script answering the
 * queries the uninstall makes with one installation's resources, and logging every
 * call): which deletions it makes, and which it leaves alone. Azure itself is not
 * reached; the stand-in's answers follow the shapes `az ... -o tsv` prints.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..', '..');
const SUB = '22222222-2222-2222-2222-222222222222';
const WS = `/subscriptions/${SUB}/resourceGroups/rg-ws/providers/Microsoft.OperationalInsights/workspaces/ws-test`;
const DCR = `/subscriptions/${SUB}/resourceGroups/rg-ws/providers/Microsoft.Insights/dataCollectionRules/dcr-prod-abc123`;
const VM_SUB = '11111111-1111-1111-1111-111111111111';
const TABLE_ROLE = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/aaaaaaaa-0000-0000-0000-000000000001`;
const VM_ROLE = `/subscriptions/${VM_SUB}/providers/Microsoft.Authorization/roleDefinitions/aaaaaaaa-0000-0000-0000-000000000002`;
const MMP = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/3913510d-42f4-4e42-8a64-420c390055eb`;
const RA = (scope: string, n: number) => `${scope}/providers/Microsoft.Authorization/roleAssignments/0000000${n}`;
const APP_RG = `/subscriptions/${SUB}/resourceGroups/rg-app`;

function fakeAz(dir: string, otherInstallation: boolean): string {
  const script = `#!/usr/bin/env bash
echo "$*" >> "${dir}/calls.log"
case "$*" in
  "account show"*) echo "${SUB}" ;;
  "identity list"*) echo "pppppppp-0000-0000-0000-000000000000" ;;
  "role assignment list --assignee pppppppp-0000-0000-0000-000000000000"*)
    printf '%s\\t%s\\t%s\\n' "${RA(WS, 1)}" "${WS}" "${TABLE_ROLE}"
    printf '%s\\t%s\\t%s\\n' "${RA(DCR, 2)}" "${DCR}" "${MMP}"
    printf '%s\\t%s\\t%s\\n' "${RA(`/subscriptions/${VM_SUB}`, 3)}" "/subscriptions/${VM_SUB}" "${VM_ROLE}"
    printf '%s\\t%s\\t%s\\n' "${RA(`${APP_RG}/providers/Microsoft.Storage/storageAccounts/st1`, 4)}" "${APP_RG}/providers/Microsoft.Storage/storageAccounts/st1" "x" ;;
  *"role definition list"*"${TABLE_ROLE}"*"roleName"*) echo "runcommand-detection table read (ws-test, abcd)" ;;
  *"role definition list"*"${TABLE_ROLE}"*"assignableScopes"*) echo "/subscriptions/${SUB}/resourceGroups/rg-ws" ;;
  *"role definition list"*"${VM_ROLE}"*"roleName"*) echo "runcommand-detection VM read (11111111, abcd)" ;;
  *"role definition list"*"${VM_ROLE}"*"assignableScopes"*) echo "/subscriptions/${VM_SUB}" ;;
  *"role definition list"*) echo "Monitoring Metrics Publisher" ;;
  "functionapp list -g rg-app"*) echo "func-prod-abc123" ;;
  *"data-collection rule list"*"streamDeclarations"*) ${otherInstallation ? 'echo "dcr-other-zzz999"' : 'true'} ;;
  *"data-collection rule list -g rg-ws"*) echo "${DCR}" ;;
  *"alertRules?api-version"*) echo "${WS}/providers/Microsoft.SecurityInsights/alertRules/rule-1" ;;
  *"savedSearches?api-version"*) echo "${WS}/savedSearches/search-1" ;;
  *"resource list -g rg-ws --resource-type Microsoft.Insights/workbooks"*) echo "/subscriptions/${SUB}/resourceGroups/rg-ws/providers/Microsoft.Insights/workbooks/wb-1" ;;
  *) echo "unexpected az call: $*" >&2; exit 9 ;;
esac
`;
  const path = join(dir, 'az');
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return dir;
}

function uninstall(args: string[], otherInstallation = false) {
  const dir = mkdtempSync(join(tmpdir(), 'rcd-uninstall-'));
  try {
    fakeAz(dir, otherInstallation);
    const r = spawnSync('bash', [join(REPO, 'scripts', 'uninstall.sh'), ...args], {
      encoding: 'utf8',
      env: { PATH: `${dir}:${process.env.PATH}`, HOME: dir },
    });
    const planned = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('+ '))
      .map((l) => l.slice(2));
    return {
      status: r.status,
      stdout: r.stdout,
      stderr: r.stderr,
      planned,
      calls: readFileSync(join(dir, 'calls.log'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BASE = ['-g', 'rg-app', '--workspace', 'ws-test', '--workspace-resource-group', 'rg-ws', '--dry-run'];

describe('scripts/uninstall.sh', () => {
  it('removes the role assignments outside the app group, the custom roles and the DCR; keeps shared parts by default', () => {
    const r = uninstall(BASE);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.planned).toEqual([
      `az role assignment delete --ids ${RA(WS, 1)}`,
      `az role assignment delete --ids ${RA(DCR, 2)}`,
      `az role assignment delete --ids ${RA(`/subscriptions/${VM_SUB}`, 3)}`,
      `az role definition delete --name aaaaaaaa-0000-0000-0000-000000000001 --scope /subscriptions/${SUB}/resourceGroups/rg-ws`,
      `az role definition delete --name aaaaaaaa-0000-0000-0000-000000000002 --scope /subscriptions/${VM_SUB}`,
      `az monitor data-collection rule delete --ids ${DCR} --yes`,
    ]);
    expect(r.stdout).toContain('azd down');
  });

  it('--remove-shared also removes the rule, the hunting query and the workbook, but keeps the tables', () => {
    const r = uninstall([...BASE, '--remove-shared']);
    expect(r.planned.slice(6)).toEqual([
      `az rest --method delete --url ${WS}/providers/Microsoft.SecurityInsights/alertRules/rule-1?api-version=2024-09-01`,
      `az rest --method delete --url ${WS}/savedSearches/search-1?api-version=2020-08-01`,
      `az resource delete --ids /subscriptions/${SUB}/resourceGroups/rg-ws/providers/Microsoft.Insights/workbooks/wb-1`,
    ]);
    expect(r.stdout).toMatch(/tables kept/);
  });

  it('--delete-tables deletes both tables too', () => {
    const r = uninstall([...BASE, '--delete-tables', '--yes']);
    expect(r.planned.slice(-2)).toEqual([
      'az monitor log-analytics workspace table delete -g rg-ws --workspace-name ws-test -n RunCommandFindings_CL --yes',
      'az monitor log-analytics workspace table delete -g rg-ws --workspace-name ws-test -n RunCommandDetectionHealth_CL --yes',
    ]);
  });

  it('keeps the shared parts while another installation still writes to the findings table', () => {
    const r = uninstall([...BASE, '--delete-tables', '--yes'], true);
    expect(r.planned).toHaveLength(6);
    expect(r.stdout).toMatch(/kept: other installations still write to RunCommandFindings_CL \(dcr-other-zzz999\)/);
  });

  it('warns instead of suggesting azd down when the workspace is in the app group', () => {
    const r = uninstall(['-g', 'rg-ws', '--workspace', 'ws-test', '--workspace-resource-group', 'rg-ws', '--dry-run']);
    expect(r.stdout).toMatch(/also holds the workspace: do NOT delete the group/);
  });

  it('usage errors exit 2 with one line', () => {
    const r = spawnSync('bash', [join(REPO, 'scripts', 'uninstall.sh'), '-g', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
