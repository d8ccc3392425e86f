#!/usr/bin/env bash
# The include graph against docs/architecture.md ("Layers"): make check-layers
# (also run by make test). Fails, naming each offending #include, when
#  (a) a folder includes a header of a folder that it may not depend on (RULES
#      below, the same table as the document), or
#  (b) modules form a cycle: a module is X.c / X.cu with its X.h / X.cuh, and
#      X -> Y when any file of X includes a file of Y (X.c including Y.h while
#      Y.c includes X.h is the shortest cycle).
# Only #include "path" lines count (our headers, always from the repository
# root); system headers are <...>.
# usage: tests/check_layers.sh [repository root]
set -euo pipefail
cd "${1:-$(dirname "$0")/..}"

# folder: the folders its files may include from (besides its own)
RULES='
lib/core:
lib/config: lib/core
lib/eval: lib/core
lib/store: lib/core
lib/weights: lib/core lib/store
lib/dist: lib/core
lib/layers: lib/core lib/dist
lib/cpu: lib/core
lib/cuda: lib/core
blocks: lib/core lib/layers
net: lib/core lib/layers blocks
data: lib/core
runner: lib/core lib/config lib/eval lib/store lib/weights lib/dist lib/layers lib/cpu lib/cuda blocks net data
analysis: lib/core lib/store lib/eval
tests: *
bench: *
'

# every C, CUDA and header file outside the build output, so that a new folder
# without a rule is noticed
find . \( -path ./build -o -path ./bin -o -path ./tests/fixtures -o -name '.*' -a ! -name . \) \
  -prune -o -type f \( -name '*.c' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' \) -print0 |
  LC_ALL=C sort -z |
  xargs -0 awk '
    /^[ \t]*#[ \t]*include[ \t]*"/ {
      p = $0
      sub(/^[^"]*"/, "", p)
      sub(/".*$/, "", p)
      f = FILENAME
      sub(/^\.\//, "", f)
      print f "\t" FNR "\t" p
    }' |
  awk -F '\t' -v rules="$RULES" '
    function dir(path) { return path ~ /\// ? substr(path, 1, match(path, /\/[^\/]*$/) - 1) : "." }
    function module(path) { sub(/\.(c|h|cu|cuh)$/, "", path); return path }
    BEGIN {
      n = split(rules, lines, "\n")
      for (i = 1; i <= n; i++) {
        if (lines[i] !~ /:/)
          continue
        folder = lines[i]
        sub(/:.*/, "", folder)
        allowed = lines[i]
        sub(/^[^:]*:[ \t]*/, "", allowed)
        ruled[folder] = 1
        m = split(allowed, targets, /[ \t]+/)
        for (j = 1; j <= m; j++)
          if (targets[j] != "")
            may[folder, targets[j]] = 1
      }
      bad = 0
    }
    {
      file = $1; line = $2; inc = $3
      from = dir(file); to = dir(inc)
      if (!(from in ruled)) {
        if (!(from in unruled))
          printf "check-layers: folder %s (%s) has no rule in tests/check_layers.sh and docs/architecture.md\n", from, file
        unruled[from] = 1
        bad = 1
      } else if (from != to && !((from, "*") in may) && !((from, to) in may)) {
        printf "check-layers: %s:%s: #include \"%s\": %s may not depend on %s\n", file, line, inc, from, to
        bad = 1
      }
      a = module(file); b = module(inc)
      if (a == b || ((a, b) in edge))
        next
      edge[a, b] = file ":" line ": #include \"" inc "\""
      nout[a]++
      out[a, nout[a]] = b
      node[a] = 1; node[b] = 1
    }
    # depth-first search; an edge back to a module on the stack closes a cycle
    function visit(v,    i, w, k, path, chain) {
      state[v] = 1
      stack[++depth] = v
      for (i = 1; i <= nout[v]; i++) {
        w = out[v, i]
        if (state[w] == 1) {
          for (k = depth; stack[k] != w; k--)
            ;
          chain = w
          path = ""
          for (; k <= depth; k++) {
            chain = chain " -> " (k < depth ? stack[k + 1] : w)
            path = path "\n    " edge[stack[k], k < depth ? stack[k + 1] : w]
          }
          printf "check-layers: include cycle %s:%s\n", chain, path
          bad = 1
        } else if (state[w] == 0)
          visit(w)
      }
      depth--
      state[v] = 2
    }
    END {
      for (v in node)
        state[v] = 0
      depth = 0
      # a fixed order, so that a cycle is reported the same way every run
      nn = 0
      for (v in node)
        names[++nn] = v
      for (i = 2; i <= nn; i++)
        for (j = i; j > 1 && names[j - 1] > names[j]; j--) {
          t = names[j]; names[j] = names[j - 1]; names[j - 1] = t
        }
      for (i = 1; i <= nn; i++)
        if (state[names[i]] == 0)
          visit(names[i])
      if (bad)
        exit 1
      print "check-layers: folder rules and module cycles OK"
    }'
