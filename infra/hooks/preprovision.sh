#!/usr/bin/env sh
# azd preprovision hook (azure.yaml): what the template cannot check by itself,
# checked before anything is created, with a message that says what to do.
#   - the two workspace settings are set;
#   - Microsoft Sentinel is enabled on the workspace when the companion rule is
#     deployed (DEPLOY_SENTINEL_RULE, default true). Without the Azure CLI the
#     check is left to the deployment, which reads the workspace's Sentinel
#     onboarding state before creating the rule.
set -eu

ws="${LOG_ANALYTICS_WORKSPACE_NAME:-}"
rg="${LOG_ANALYTICS_WORKSPACE_RESOURCE_GROUP:-}"
if [ -z "$ws" ] || [ -z "$rg" ]; then
  echo "runcommand-detection: set the workspace first:" >&2
  echo "  azd env set LOG_ANALYTICS_WORKSPACE_NAME <workspace name>" >&2
  echo "  azd env set LOG_ANALYTICS_WORKSPACE_RESOURCE_GROUP <its resource group>" >&2
  exit 1
fi

if [ "${DEPLOY_SENTINEL_RULE:-true}" = "false" ]; then exit 0; fi
if ! command -v az >/dev/null 2>&1; then
  echo "runcommand-detection: no Azure CLI, so Microsoft Sentinel on '$ws' is checked by the deployment itself."
  exit 0
fi
sub="${AZURE_SUBSCRIPTION_ID:-$(az account show --query id -o tsv)}"
# A relative URL: az rest prefixes the Resource Manager endpoint of the current cloud.
url="/subscriptions/$sub/resourceGroups/$rg/providers/Microsoft.OperationalInsights/workspaces/$ws/providers/Microsoft.SecurityInsights/onboardingStates/default?api-version=2024-09-01"
if ! az rest --method get --url "$url" --only-show-errors >/dev/null 2>&1; then
  echo "runcommand-detection: Microsoft Sentinel is not enabled on workspace '$ws' (resource group '$rg'), or you cannot read it." >&2
  echo "  Enable Microsoft Sentinel on the workspace (portal: Microsoft Sentinel > Create > the workspace), then run azd up again;" >&2
  echo "  or deploy without the companion analytics rule: azd env set DEPLOY_SENTINEL_RULE false" >&2
  exit 1
fi
