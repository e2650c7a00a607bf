#!/usr/bin/env sh
# azd predown hook (azure.yaml): `azd down` deletes the app's resource group. When
# the Log Analytics workspace lives in that same group, that would delete the
# workspace (and Microsoft Sentinel with it): stop, unless told explicitly.
# What lives outside the app's resource group is removed by scripts/uninstall.sh.
set -eu

app_rg="${AZURE_RESOURCE_GROUP:-}"
ws_rg="${LOG_ANALYTICS_WORKSPACE_RESOURCE_GROUP:-}"
if [ -n "$app_rg" ] && [ -n "$ws_rg" ] && [ "$(echo "$app_rg" | tr 'A-Z' 'a-z')" = "$(echo "$ws_rg" | tr 'A-Z' 'a-z')" ]; then
  if [ "${RCD_DOWN_DELETES_WORKSPACE:-}" != "yes" ]; then
    echo "runcommand-detection: azd down would delete resource group '$app_rg', which also holds the workspace '${LOG_ANALYTICS_WORKSPACE_NAME:-?}'" >&2
    echo "  (its data, Microsoft Sentinel, every other solution on it). Stopped." >&2
    echo "  To remove only runcommand-detection: scripts/uninstall.sh (see docs/deploy.md, Uninstall)." >&2
    echo "  To delete the whole group anyway: RCD_DOWN_DELETES_WORKSPACE=yes azd down" >&2
    exit 1
  fi
fi
echo "runcommand-detection: azd down removes the app's resource group only. Run scripts/uninstall.sh first for the"
echo "  DCR, roles and (with --remove-shared) the rule, workbook and tables in the workspace's resource group."
