# Shared by bench/run.sh and bench/shapes.sh (sourced after $work is set).
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

# run_once OKCODES CMD...: sets $wall (s) and $rss (KiB); fails loudly on an unexpected status.
run_once() {
    local ok=$1 t0 t1 rc=0; shift
    t0=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || rc=$?
    t1=$EPOCHREALTIME
    if [[ " $ok " != *" $rc "* ]]; then
        echo "run.sh: '$*' exited $rc; stderr:" >&2; tail -n 20 "$work/stderr" >&2; exit 1
    fi
    wall=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
    rss=$(tail -n 1 "$work/time")
}

# measure NAME OKCODES CMD...: warm-up + median of 3; sets T[NAME] (s) and M[NAME] (MiB, max)
measure() {
    local name=$1 ok=$2 walls=() maxrss=0; shift 2
    run_once "$ok" "$@"
    for _ in 1 2 3; do
        run_once "$ok" "$@"
        walls+=("$wall"); maxrss=$((rss > maxrss ? rss : maxrss))
    done
    T[$name]=$(printf '%s\n' "${walls[@]}" | sort -g | sed -n 2p)
    M[$name]=$((maxrss / 1024))
    log "$name: ${walls[*]} s -> median ${T[$name]} s, peak RSS ${M[$name]} MiB"
}

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
# verdict VALUE OP TARGET
verdict() { python3 -c "print('PASS' if $1 $2 $3 else 'FAIL')"; }


# interleave ROUNDS NAME OKCODES CMDARRAY [NAME OKCODES CMDARRAY ...]: a warm-up run of each command,
# then ROUNDS rounds that run each command once in turn, so that a slow spell of this VM (seen here:
# for 10-30 s at a time audit's user time grows by 40% while find's does not move) falls on every
# command alike instead of on whichever ran then. Sets T[NAME] to the best wall time (best of ROUNDS,
# as issue #18 measured), TM[NAME] to the median, M[NAME] to the peak RSS (MiB).
declare -A TM
interleave() {
    local rounds=$1 i r sorted; shift
    local -a names=() oks=() arrs=() walls=()
    while (($#)); do names+=("$1"); oks+=("$2"); arrs+=("$3"); shift 3; done
    for i in "${!names[@]}"; do
        local -n cmd=${arrs[$i]}; run_once "${oks[$i]}" "${cmd[@]}"; unset -n cmd
        M[${names[$i]}]=0 walls[$i]=""
    done
    for ((r = 0; r < rounds; r++)); do
        for i in "${!names[@]}"; do
            local -n cmd=${arrs[$i]}; run_once "${oks[$i]}" "${cmd[@]}"; unset -n cmd
            walls[$i]+="$wall "
            ((rss / 1024 > M[${names[$i]}])) && M[${names[$i]}]=$((rss / 1024))
        done
    done
    for i in "${!names[@]}"; do
        sorted=$(tr ' ' '\n' <<<"${walls[$i]}" | grep . | sort -g)
        T[${names[$i]}]=$(head -n 1 <<<"$sorted")
        TM[${names[$i]}]=$(sed -n "$(((rounds + 1) / 2))p" <<<"$sorted")
        log "${names[$i]}: ${walls[$i]}s -> best ${T[${names[$i]}]} s, median ${TM[${names[$i]}]} s, peak RSS ${M[${names[$i]}]} MiB"
    done
}
