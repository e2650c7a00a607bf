#!/usr/bin/env bash
# Prints the path of a Bicep CLI binary on stdout (progress goes to stderr).
#
# Order of preference:
#   1. BICEP_BIN, if set and executable;
#   2. a `bicep` on PATH;
#   3. the one `az bicep install` put in ~/.azure/bin;
#   4. the pinned NuGet package Azure.Bicep.CommandLine.linux-x64, restored with
#      `dotnet restore` of a throw-away project into .tools/bicep (git-ignored).
#      NuGet is a package registry, so this works without any other download.
#
# Usage: BICEP=$(scripts/install-bicep.sh) && "$BICEP" build infra/bicep/main.bicep
#        scripts/install-bicep.sh --no-download   # only look; exit 1 if none is there
set -euo pipefail

NO_DOWNLOAD=false
if [[ "${1:-}" == "--no-download" ]]; then NO_DOWNLOAD=true; fi

BICEP_VERSION="${BICEP_VERSION:-0.49.2}"
PACKAGE="azure.bicep.commandline.linux-x64"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/.tools/bicep"

if [[ -n "${BICEP_BIN:-}" && -x "${BICEP_BIN}" ]]; then
  echo "$BICEP_BIN"
  exit 0
fi
if command -v bicep >/dev/null 2>&1; then
  command -v bicep
  exit 0
fi
if [[ -x "$HOME/.azure/bin/bicep" ]]; then
  echo "$HOME/.azure/bin/bicep"
  exit 0
fi

if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
  echo "install-bicep: no bicep on PATH and the NuGet fallback is only for linux-x64;" \
    "install Bicep (https://aka.ms/bicep-install) or set BICEP_BIN." >&2
  exit 1
fi

bin="$TOOLS/packages/$PACKAGE/$BICEP_VERSION/tools/bicep"
if [[ ! -x "$bin" && "$NO_DOWNLOAD" == true ]]; then
  echo "install-bicep: no bicep found (run scripts/install-bicep.sh to restore Bicep $BICEP_VERSION into .tools/)" >&2
  exit 1
fi
if [[ ! -x "$bin" ]]; then
  if ! command -v dotnet >/dev/null 2>&1; then
    echo "install-bicep: neither bicep nor dotnet is installed; install one of them or set BICEP_BIN." >&2
    exit 1
  fi
  echo "install-bicep: restoring Azure.Bicep.CommandLine.linux-x64 $BICEP_VERSION from NuGet into $TOOLS" >&2
  mkdir -p "$TOOLS/restore"
  cat >"$TOOLS/restore/restore.csproj" <<CSPROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net$(dotnet --version | cut -d. -f1-2)</TargetFramework>
  </PropertyGroup>
  <ItemGroup>
    <PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$BICEP_VERSION]" />
  </ItemGroup>
</Project>
CSPROJ
  DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 \
    dotnet restore "$TOOLS/restore/restore.csproj" --packages "$TOOLS/packages" >&2
  # Find the binary wherever the package lays it out.
  found="$(find "$TOOLS/packages/$PACKAGE/$BICEP_VERSION" -type f -name bicep | head -n 1)"
  if [[ -z "$found" ]]; then
    echo "install-bicep: the package restored but holds no 'bicep' binary under $TOOLS/packages/$PACKAGE/$BICEP_VERSION" >&2
    exit 1
  fi
  chmod +x "$found"
  bin="$found"
fi
echo "$bin"
