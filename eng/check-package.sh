#!/usr/bin/env bash
# Proves that the packed Microsoft.ML.Ntk.nupkg carries the TorchSharp native fix to its users:
# packs the library into a local folder, builds a consumer application outside the repository that
# references only that package and TorchSharp-cpu, and runs a forward pass after `dotnet run` and
# after `dotnet publish -r linux-x64`. Then one process fits and saves two Ntk models (regression and
# multiclass) and two fresh processes (the built and the published application) load them and must give
# bit-identical predictions.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=0.0.0-consumer-check

cache=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
rm -rf "$cache/microsoft.ml.ntk/$version"   # our own throwaway version: never reuse a stale copy

dotnet pack "$root/src/Microsoft.ML.Ntk/Microsoft.ML.Ntk.csproj" -c Release -o "$work/feed" -p:Version=$version --nologo -v quiet
# the listing goes to a file first: `unzip | grep -q` under pipefail fails with SIGPIPE (141) when grep stops early
unzip -l "$work/feed/Microsoft.ML.Ntk.$version.nupkg" > "$work/listing.txt"
grep -q "buildTransitive/Microsoft.ML.Ntk.targets" "$work/listing.txt"

mkdir -p "$work/consumer"
cp "$root/tests/PackageConsumer/PackageConsumer.csproj" "$root/tests/PackageConsumer/Program.cs" "$work/consumer/"
cat > "$work/consumer/NuGet.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
</configuration>
XML

cd "$work/consumer"
dotnet run -p:NtkPackageVersion=$version
dotnet run -p:NtkPackageVersion=$version --no-build -- save "$work/models"
dotnet run -p:NtkPackageVersion=$version --no-build -- load "$work/models"
dotnet publish -r linux-x64 --self-contained false -p:NtkPackageVersion=$version -o "$work/publish" --nologo -v quiet
"$work/publish/PackageConsumer"
"$work/publish/PackageConsumer" load "$work/models"
rm -rf "$cache/microsoft.ml.ntk/$version"
echo "package check: OK"
