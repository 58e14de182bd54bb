#!/bin/sh
# insn_count.sh OBJDUMP OBJECT SAMPLES_PER_CALL: instructions executed by one call of each
# probe_* function of insn_probe.c, and per sample. The probes are straight-line code except
# for the compiler's leftover 4-iteration loops over a group's 4 sample vectors (j < 4); each
# backward branch is printed with its body so that this can be checked, and counted 4 times.
set -eu
"$1" -d --no-show-raw-insn "$2" | awk -v per="$3" -v obj="$2" '
    function report() {
        printf "%s %-18s %5d instructions (%d in %d loops x 4), %d samples: %.2f per sample\n",
               obj, name, n + 3 * looped, 4 * looped, loops, per, (n + 3 * looped) / per
        name = ""
    }
    /^[0-9a-f]+ <probe_.*>:$/ { name = $2; gsub(/[<>:]/, "", name); n = 0; loops = 0; looped = 0; next }
    name != "" && /^ *[0-9a-f]+:\t/ {
        addr = $1; sub(/:$/, "", addr); index_of[addr] = n; n++
        if (match($0, /\t(b\.[a-z]+|j[a-z]+|cbn?z|tbn?z)[ \t]+([^ ]+, )*[0-9a-f]+ </)) {
            split(substr($0, RSTART, RLENGTH), f, /[ \t,]+/); target = f[length(f) - 1]
            if (target in index_of) { loops++; looped += n - index_of[target];
                printf "  loop in %s: %d instructions\n", name, n - index_of[target] }
        }
        next
    }
    name != "" && /^$/ { report() }
    END { if (name != "") report() }'
