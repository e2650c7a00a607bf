#!/usr/bin/env bash
# Removes what runcommand-detection created OUTSIDE the app's resource group, which
# `azd down` (or `az group delete` of the app's group) leaves behind:
#   - the identity's role assignments on the workspace, the DCR and the VM subscriptions,
#   - its custom roles (table read in the workspace's resource group, VM read per subscription),
#   - its data collection rule (with the DCR's diagnostic setting),
#   - with --remove-shared, and only when no other installation's DCR writes to the
#     findings table: the Sentinel rule, the saved hunting query and the workbook,
#   - with --delete-tables as well: the findings and health tables AND THEIR DATA.
# Then delete the app's resource group (azd down, or the command printed at the end).
#
#   scripts/uninstall.sh -g <app resource group> --workspace <name> --workspace-resource-group <rg>
#                        [--remove-shared] [--delete-tables] [--dry-run] [--yes]
#
# Needs the Azure CLI, signed in with rights to delete those resources and role
# assignments (docs/deploy.md, "Uninstall"). --dry-run prints the commands only.
set -euo pipefail

usage() {
  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-2}"
}

app_rg="" ws="" ws_rg="" remove_shared=false delete_tables=false dry_run=false yes=false
while [ $# -gt 0 ]; do
  case "$1" in
    -g | --resource-group) app_rg="${2:-}"; shift 2 ;;
    --workspace) ws="${2:-}"; shift 2 ;;
    --workspace-resource-group) ws_rg="${2:-}"; shift 2 ;;
    --remove-shared) remove_shared=true; shift ;;
    --delete-tables) delete_tables=true; remove_shared=true; shift ;;
    --dry-run) dry_run=true; shift ;;
    --yes | -y) yes=true; shift ;;
    -h | --help) usage 0 ;;
    *) echo "uninstall: unknown argument '$1' (run scripts/uninstall.sh --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$app_rg" ] || [ -z "$ws" ] || [ -z "$ws_rg" ]; then
  echo "uninstall: -g, --workspace and --workspace-resource-group are required (run scripts/uninstall.sh --help)" >&2
  exit 2
fi
command -v az >/dev/null 2>&1 || { echo "uninstall: the Azure CLI (az) is needed" >&2; exit 2; }

run() {
  echo "+ $*"
  if [ "$dry_run" = false ]; then "$@"; fi
}

sub="$(az account show --query id -o tsv)"
ws_id="/subscriptions/$sub/resourceGroups/$ws_rg/providers/Microsoft.OperationalInsights/workspaces/$ws"
findings_table="RunCommandFindings_CL"
health_table="RunCommandDetectionHealth_CL"

# The runtime identity of this installation (the deployment identity has roles only in the app's group).
principal="$(az identity list -g "$app_rg" --query "[?!contains(name, '-deploy-')] | [0].principalId" -o tsv)"
if [ -z "$principal" ]; then
  echo "uninstall: no runtime identity in resource group '$app_rg' (already deleted?)." >&2
  echo "  Its role assignments then show as 'Identity not found'; remove them in the portal (Access control), and the" >&2
  echo "  custom roles named 'runcommand-detection ...'. Continuing with what can be found by name." >&2
fi

echo "== role assignments and custom roles of the identity outside '$app_rg'"
custom_roles=()
if [ -n "$principal" ]; then
  # Every assignment of the identity, in every subscription it can see: keep those outside the app's group.
  while IFS=$'\t' read -r id scope role_id; do
    [ -n "$id" ] || continue
    case "$(echo "$scope" | tr 'A-Z' 'a-z')" in
      "/subscriptions/$sub/resourcegroups/$(echo "$app_rg" | tr 'A-Z' 'a-z')"*) continue ;;
    esac
    run az role assignment delete --ids "$id"
    custom_roles+=("$role_id")
  done < <(az role assignment list --assignee "$principal" --all --query "[].[id, scope, roleDefinitionId]" -o tsv)
fi
for role_id in "${custom_roles[@]+"${custom_roles[@]}"}"; do
  # Listed in the subscription the role id names (the VM roles live in the VM subscriptions).
  in_sub="${role_id%%/providers/*}"
  name="$(az role definition list --custom-role-only true --scope "$in_sub" --query "[?id=='$role_id'] | [0].roleName" -o tsv 2>/dev/null || true)"
  case "$name" in
    runcommand-detection*)
      # A custom role is deleted at one of its assignable scopes.
      scope="$(az role definition list --custom-role-only true --scope "$in_sub" --query "[?id=='$role_id'] | [0].assignableScopes[0]" -o tsv)"
      run az role definition delete --name "${role_id##*/}" --scope "$scope"
      ;;
  esac
done

echo "== data collection rule(s) of this installation in '$ws_rg'"
# The DCR writes the findings stream and carries this installation's suffix, as the Function app does.
app_name="$(az functionapp list -g "$app_rg" --query "[0].name" -o tsv 2>/dev/null || true)"
suffix="${app_name##*-}"
if [ -n "$app_name" ] && [ -n "$suffix" ]; then
  for dcr in $(az monitor data-collection rule list -g "$ws_rg" --query "[?ends_with(name, '-$suffix')].id" -o tsv); do
    run az monitor data-collection rule delete --ids "$dcr" --yes
  done
else
  echo "  no Function app in '$app_rg': find the DCR named dcr-<name>-<suffix> in '$ws_rg' and delete it by hand."
fi

if [ "$remove_shared" = true ]; then
  what="rule, hunting query, workbook"
  if [ "$delete_tables" = true ]; then what="$what, tables"; fi
  echo "== shared by every installation on '$ws': $what"
  others="$(az monitor data-collection rule list -g "$ws_rg" \
    --query "[?streamDeclarations.\"Custom-$findings_table\"] | [?!ends_with(name, '-$suffix')].name" -o tsv 2>/dev/null || true)"
  if [ -n "$others" ]; then
    echo "  kept: other installations still write to $findings_table ($others)."
  else
    rules="$(az rest --method get --url "$ws_id/providers/Microsoft.SecurityInsights/alertRules?api-version=2024-09-01" \
      --query "value[?contains(properties.displayName, '(runcommand-detection)')].id" -o tsv 2>/dev/null || true)"
    for r in $rules; do run az rest --method delete --url "$r?api-version=2024-09-01"; done
    searches="$(az rest --method get --url "$ws_id/savedSearches?api-version=2020-08-01" \
      --query "value[?starts_with(properties.displayName, 'runcommand-detection:')].id" -o tsv 2>/dev/null || true)"
    for s in $searches; do run az rest --method delete --url "$s?api-version=2020-08-01"; done
    # The workbook's display name (main.bicep); the portal tags a workbook with it as hidden-title.
    workbooks="$(az resource list -g "$ws_rg" --resource-type Microsoft.Insights/workbooks \
      --query "[?tags.\"hidden-title\"=='Azure VM Run Command: unique PowerShell scripts'].id" -o tsv 2>/dev/null || true)"
    for w in $workbooks; do run az resource delete --ids "$w"; done
    if [ "$delete_tables" = true ]; then
      if [ "$yes" = false ] && [ "$dry_run" = false ]; then
        read -r -p "Delete $findings_table and $health_table and ALL THEIR DATA from '$ws'? Type 'delete': " answer
        [ "$answer" = "delete" ] || { echo "tables kept"; delete_tables=false; }
      fi
      if [ "$delete_tables" = true ]; then
        for t in "$findings_table" "$health_table"; do
          run az monitor log-analytics workspace table delete -g "$ws_rg" --workspace-name "$ws" -n "$t" --yes
        done
      fi
    else
      echo "  tables kept ($findings_table, $health_table: findings are evidence). --delete-tables removes them and their data."
    fi
  fi
fi

echo "== what is left: the app's resource group"
if [ "$(echo "$app_rg" | tr 'A-Z' 'a-z')" = "$(echo "$ws_rg" | tr 'A-Z' 'a-z')" ]; then
  echo "  '$app_rg' also holds the workspace: do NOT delete the group. Delete the app's resources one by one"
  echo "  (Function app, plan, storage accounts, identities, Application Insights, alert rules, action group)."
else
  echo "  azd down     (or: az group delete -n $app_rg)"
fi
