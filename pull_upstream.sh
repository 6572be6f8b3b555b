#!/usr/bin/env bash
# Imports a directory of an upstream git repository into this one, recording where it came
# from and under which licence; run again later, it merges only the upstream changes made
# since the recorded commit, keeping local edits (a three-way merge).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: ./pull_upstream.sh [--keep-conflicts] REMOTE REF UPSTREAM_PATH DEST LICENSE_ID LICENSE_PATH

Imports UPSTREAM_PATH of REMOTE at REF into DEST of this repository as one commit.

  REMOTE         a remote of this repository (git remote add ...) or a repository URL/path
  REF            a branch, a tag or a commit id of REMOTE
  UPSTREAM_PATH  the directory to import, relative to REMOTE's root ('.' for all of it)
  DEST           where it goes, relative to this repository's root
  LICENSE_ID     the upstream licence as an SPDX id or expression (MIT, Apache-2.0, ...),
                 checked offline against the SPDX licence list of license-expression
  LICENSE_PATH   the upstream licence file, relative to REMOTE's root; it must exist at
                 REF (a licence file outside UPSTREAM_PATH is copied into DEST)

The commit message records the remote URL, ref, commit, paths and licence, ending with
trailers (Upstream-Commit: <sha>, Upstream-Dest: DEST, ...). A later run for the same DEST
finds them and merges only what changed upstream since that commit.

Every failure leaves the repository as it was. With --keep-conflicts, a merge that
conflicts is left in place for you to resolve; the commit message waits in
.git/PULL_UPSTREAM_MSG (git commit -F .git/PULL_UPSTREAM_MSG -- DEST).

Example:
  git remote add -f --no-tags bigdata https://github.com/big/data.git
  ./pull_upstream.sh bigdata main connectors/source-bigdata source-bigdata MIT LICENSE
EOF
}

fail() {
  echo "pull_upstream.sh: $*" >&2
  exit 1
}

KEEP_CONFLICTS=false
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --keep-conflicts) KEEP_CONFLICTS=true; shift ;;
esac
if [[ $# -ne 6 ]]; then
  echo "pull_upstream.sh: expected 6 arguments, got $#" >&2
  usage >&2
  exit 2
fi
REMOTE=$1 REF=$2 LICENSE_ID=$5 LICENSE_PATH=$6
normalize_path() { # strip ./ and trailing slashes; '.' for the root
  local p=$1
  while [[ "$p" == ./* ]]; do p=${p#./}; done
  while [[ "$p" == */ && "$p" != / ]]; do p=${p%/}; done
  echo "${p:-.}"
}
UPSTREAM_PATH=$(normalize_path "$3")
DEST=$(normalize_path "$4")
LICENSE_PATH=$(normalize_path "$LICENSE_PATH")
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

for p in "$UPSTREAM_PATH" "$DEST" "$LICENSE_PATH"; do
  [[ "$p" != /* && "/$p/" != */../* ]] || fail "paths are relative and stay inside their repository: '$p'"
done
[[ "$DEST" != . ]] || fail "DEST must be a directory of this repository, not its root"
[[ -n "$REF" ]] || fail "REF is empty; give a branch, tag or commit id"

# --- this repository: clean where we write -------------------------------------------------
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || fail "run me inside a git work tree"
cd "$(git rev-parse --show-toplevel)"
git rev-parse --verify -q HEAD >/dev/null || fail "this repository has no commit yet; commit something first"
git diff --cached --quiet || fail "the index has staged changes; commit or unstage them first, so the import commit holds only $DEST"
[[ -z "$(git status --porcelain --untracked-files=all -- "$DEST")" ]] \
  || fail "$DEST has uncommitted changes; commit or remove them first"
git ls-files --error-unmatch -- "$DEST" >/dev/null 2>&1 && DEST_TRACKED=true || DEST_TRACKED=false

# --- the licence id, offline -----------------------------------------------------------------
PYTHON=${PYTHON:-}
if [[ -z "$PYTHON" ]]; then
  if [[ -x "$SCRIPT_DIR/.venv/bin/python" ]]; then PYTHON=$SCRIPT_DIR/.venv/bin/python; else PYTHON=python3; fi
fi
LICENSE_ID=$("$PYTHON" "$SCRIPT_DIR/scripts/spdx_license.py" "$LICENSE_ID" 2>&1) || fail "$LICENSE_ID"

# --- the upstream commit ----------------------------------------------------------------------
if URL=$(git remote get-url "$REMOTE" 2>/dev/null); then
  REF=${REF#"$REMOTE"/} # the older spelling REMOTE/BRANCH of a remote-tracking branch
else
  URL=$REMOTE
fi
fetch() { git fetch --quiet --no-tags --no-write-fetch-head "$URL" "$@"; }
fetch_head() { git fetch --quiet --no-tags "$URL" "$@"; }
SCRATCH=refs/pull-upstream # all branches and tags land here for a moment, when needed
fetch_all() { fetch "+refs/heads/*:$SCRATCH/heads/*" "+refs/tags/*:$SCRATCH/tags/*"; }
cleanup() {
  rm -f "$ERR" "$TMP_MSG"
  git for-each-ref --format='delete %(refname)' "$SCRATCH/" | git update-ref --stdin 2>/dev/null || true
}
ERR=$(mktemp)
TMP_MSG=$(mktemp)
trap cleanup EXIT
if fetch_head "$REF" 2>"$ERR"; then
  COMMIT=$(git rev-parse --verify -q 'FETCH_HEAD^{commit}') || fail "'$REF' of $URL does not name a commit"
elif [[ "$REF" =~ ^[0-9a-fA-F]{4,40}$ ]]; then
  # A commit id: servers may refuse to send it by id; fetch the branches and tags, then look.
  fetch_all 2>"$ERR" || fail "cannot fetch from $URL: $(tr '\n' ' ' <"$ERR")"
  COMMIT=$(git rev-parse --verify -q "$REF^{commit}") \
    || fail "commit '$REF' is not on any branch or tag of $URL"
else
  fail "cannot fetch '$REF' from $URL (is it a branch, tag or commit id of that repository?): $(tr '\n' ' ' <"$ERR")"
fi
SHORT=$(git rev-parse --short "$COMMIT")

tree_of() { # the tree id of path $2 in commit $1 ('.' is the root)
  if [[ "$2" == . ]]; then git rev-parse --verify -q "$1^{tree}"; else git rev-parse --verify -q "$1:$2"; fi
}
NEW_TREE=$(tree_of "$COMMIT" "$UPSTREAM_PATH") || fail "'$UPSTREAM_PATH' does not exist in $URL at $REF ($SHORT)"
[[ "$(git cat-file -t "$NEW_TREE")" == tree ]] || fail "'$UPSTREAM_PATH' in $URL at $REF ($SHORT) is a file, not a directory"
[[ "$(git cat-file -t "$COMMIT:$LICENSE_PATH" 2>/dev/null)" == blob ]] \
  || fail "the licence file '$LICENSE_PATH' does not exist in $URL at $REF ($SHORT); give the path of the upstream licence file"

# --- the previous import of DEST, if any ------------------------------------------------------
OLD_COMMIT="" OLD_PATH=""
while read -r candidate; do
  [[ -n "$candidate" ]] || continue
  [[ "$(git log -1 --format='%(trailers:key=Upstream-Dest,valueonly)' "$candidate" | head -1)" == "$DEST" ]] || continue
  OLD_COMMIT=$(git log -1 --format='%(trailers:key=Upstream-Commit,valueonly)' "$candidate" | head -1)
  OLD_PATH=$(git log -1 --format='%(trailers:key=Upstream-Path,valueonly)' "$candidate" | head -1)
  break
done < <(git log --format=%H --fixed-strings --grep="Upstream-Dest: $DEST")

EMPTY_TREE=$(git hash-object -t tree /dev/null)
if [[ -n "$OLD_COMMIT" ]]; then
  git cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null || fetch "$OLD_COMMIT" 2>/dev/null \
    || fetch_all 2>/dev/null || true
  git cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null \
    || fail "the last import of $DEST came from upstream commit $OLD_COMMIT, which $URL no longer has; cannot tell local edits from upstream changes"
  BASE_TREE=$(tree_of "$OLD_COMMIT" "${OLD_PATH:-.}") || fail "'$OLD_PATH' is missing from recorded upstream commit $OLD_COMMIT"
  ACTION=Update
elif $DEST_TRACKED; then
  fail "$DEST already exists and was not imported by this script (no Upstream-Dest: $DEST trailer in the history); import into a new directory"
else
  BASE_TREE=$EMPTY_TREE
  ACTION=Import
fi

# --- the commit message -----------------------------------------------------------------------
{
  echo "$ACTION $DEST from upstream $UPSTREAM_PATH @ $REF ($SHORT)"
  echo
  echo "Upstream $URL, $REF at commit $COMMIT: $UPSTREAM_PATH imported into $DEST."
  echo "Licence $LICENSE_ID, licence file $LICENSE_PATH at that commit."
  if [[ -n "$OLD_COMMIT" ]]; then
    echo "Merged the upstream changes since $OLD_COMMIT, keeping local edits."
  fi
  echo
  echo "Upstream-Remote: $URL"
  echo "Upstream-Ref: $REF"
  echo "Upstream-Commit: $COMMIT"
  echo "Upstream-Path: $UPSTREAM_PATH"
  echo "Upstream-Dest: $DEST"
  echo "License-Id: $LICENSE_ID"
  echo "License-Path: $LICENSE_PATH"
} >"$TMP_MSG"

rollback() { # put DEST back as HEAD has it (it was clean when we started)
  if $DEST_TRACKED; then
    git checkout -q HEAD -- "$DEST" 2>/dev/null || true
    git reset -q -- "$DEST" 2>/dev/null || true
    git clean -fdq -- "$DEST" 2>/dev/null || true
  else
    git rm -r -q --cached --ignore-unmatch -- "$DEST" >/dev/null 2>&1 || true
    git clean -fdq -- "$DEST" 2>/dev/null || true
  fi
}

# --- merge: the upstream diff since the last import, applied three-way under DEST -----------------
if [[ "$BASE_TREE" == "$NEW_TREE" ]]; then
  echo "pull_upstream.sh: $DEST is up to date: no upstream change to $UPSTREAM_PATH since $OLD_COMMIT" >&2
  exit 0
fi
trap 'rollback; cleanup; exit 130' INT TERM
if ! git diff --binary --full-index --no-renames "$BASE_TREE" "$NEW_TREE" \
  | git apply --index --3way --whitespace=nowarn --directory="$DEST" 2>"$ERR"; then
  CONFLICTS=$(git diff --name-only --diff-filter=U -- "$DEST" | tr '\n' ' ')
  if [[ -n "$CONFLICTS" ]] && $KEEP_CONFLICTS; then
    cp "$TMP_MSG" "$(git rev-parse --git-dir)/PULL_UPSTREAM_MSG"
    fail "conflicts between upstream changes and local edits in: $CONFLICTS- resolve them, 'git add' the files, then: git commit -F $(git rev-parse --git-dir)/PULL_UPSTREAM_MSG -- $DEST"
  fi
  rollback
  if [[ -n "$CONFLICTS" ]]; then
    fail "upstream changes conflict with local edits in: $CONFLICTS- nothing was changed; rerun with --keep-conflicts to resolve them by hand"
  fi
  fail "could not apply the upstream changes to $DEST: $(tr '\n' ' ' <"$ERR")- nothing was changed"
fi

LICENSE_COPY=""
if [[ "$UPSTREAM_PATH" != . && "$LICENSE_PATH" != "$UPSTREAM_PATH"/* ]]; then
  LICENSE_COPY=$DEST/$(basename "$LICENSE_PATH")
  if git cat-file -e "$NEW_TREE:$(basename "$LICENSE_PATH")" 2>/dev/null; then
    LICENSE_COPY="" # the subtree carries a file of that name already
  else
    git show "$COMMIT:$LICENSE_PATH" >"$LICENSE_COPY"
    git add -- "$LICENSE_COPY"
  fi
fi

if ! git commit -q -F "$TMP_MSG" -- "$DEST" 2>"$ERR"; then
  rollback
  fail "git commit failed, nothing was changed: $(tr '\n' ' ' <"$ERR")"
fi
echo "pull_upstream.sh: $(git log -1 --format='%h %s')${LICENSE_COPY:+ (licence copied to $LICENSE_COPY)}" >&2
