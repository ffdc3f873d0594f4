#!/usr/bin/env bash
# The published package (issue 22): `tandem-scheduler` holds the library and what describes it,
# nothing else, and `cargo publish` accepts it.
# 1. `cargo package --list`: every file is in the allowed set (the sources, a build script, the
#    README, docs/*.md, the licenses, the changelog, and the files cargo adds); the offending
#    ones are printed.
# 2. The files a user must get are there: src/lib.rs, README.md, LICENSE-MIT, LICENSE-APACHE,
#    CHANGELOG.md, and build.rs when the repository has one.
# 3. Every file the sources include (`include_str!` / `include_bytes!`, the doctests' README
#    and guides too) is in the package.
# 4. `cargo publish --dry-run`: packages, then builds the packaged crate on its own (the
#    crates.io index must be reachable), with no "manifest has no ..." metadata warning.
# Cargo warns that it leaves out the root package's examples and tests (examples/, tests/): they
# are the repository's, not the package's.
# A clean checkout (CI's fresh clone) is packaged exactly as `cargo publish` would; a working
# tree with uncommitted changes gets `--allow-dirty` (said on the output), so a developer's
# edits do not fail the suite. The checks count in scripts/test.sh's total ("N passed, N failed").
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
package=tandem-scheduler
passed=0
failed=0
check() { # check <name> <status>: one assertion of the suite
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok: $1"; else failed=$((failed + 1)); echo "FAIL: $1"; fi
}

flags=(--locked)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -n "$(git status --porcelain)" ]; then
  echo "note: uncommitted changes in the working tree: packaging with --allow-dirty (a clean clone packages without it)"
  flags+=(--allow-dirty)
fi

list=$(cargo package --list -p "$package" "${flags[@]}")
echo "$list" | sed 's/^/  /'
echo "$(wc -l <<<"$list") files in the package"

# 1. Nothing outside the allowed set.
allowed='^(src/.+|build\.rs|README\.md|docs/[^/]+\.md|CHANGELOG\.md|LICENSE-MIT|LICENSE-APACHE|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|\.cargo_vcs_info\.json)$'
offending=$(grep -Ev "$allowed" <<<"$list" || true)
[ -z "$offending" ] || { echo "files outside the allowed set:"; echo "$offending" | sed 's/^/  /'; }
check "the package holds only the library, its docs, licenses and changelog" "$([ -z "$offending" ]; echo $?)"

# 2. The files a user must get.
required=(Cargo.toml src/lib.rs README.md LICENSE-MIT LICENSE-APACHE CHANGELOG.md)
[ -e build.rs ] && required+=(build.rs)
missing=()
for file in "${required[@]}"; do grep -qxF "$file" <<<"$list" || missing+=("$file"); done
[ ${#missing[@]} -eq 0 ] || echo "missing from the package: ${missing[*]}"
check "the package holds ${required[*]}" "${#missing[@]}"

# 3. What the sources include is packaged (or the packaged crate's docs or doctests break).
unpackaged=()
while IFS=: read -r source _ call; do
  [ -n "$source" ] || continue
  path=${call#*\"}
  path=${path%\"*}
  resolved=$(realpath -m --relative-to=. "$(dirname "$source")/$path")
  grep -qxF "$resolved" <<<"$list" || unpackaged+=("$resolved (from $source)")
done < <(grep -rnoE --include='*.rs' 'include_(str|bytes)!\("[^"]+"\)' src || true)
[ ${#unpackaged[@]} -eq 0 ] || printf 'included by the sources but not packaged: %s\n' "${unpackaged[@]}" | sort -u
check "every file the sources include is packaged" "${#unpackaged[@]}"

# 4. The dry run: the packaged crate builds on its own, and the metadata is complete.
dry_run=$(cargo publish --dry-run -p "$package" "${flags[@]}" 2>&1) && status=0 || status=$?
echo "$dry_run" | sed 's/^/  /'
if grep -q 'manifest has no' <<<"$dry_run"; then status=1; echo "the manifest lacks metadata (see above)"; fi
check "cargo publish --dry-run -p $package" "$status"

echo "package $package: $(wc -l <<<"$list") files, $passed of $((passed + failed)) checks passed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
