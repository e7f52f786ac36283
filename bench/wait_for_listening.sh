# Sourced by the bench scripts, which start idem-server in the background.
#
#   wait_for_listening LOG PID
#
# Returns once the server PID, logging to LOG, has logged that it listens.
# When it exits first, or has not listened within 30 s, prints the log's last
# lines and ends the calling script (its EXIT trap cleans up).
wait_for_listening() {
  local log=$1 pid=$2
  for _ in $(seq 300); do
    grep -q '"event":"listening"' "$log" && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$log" >&2
  echo "idem-server (pid $pid) is not listening; log: $log" >&2
  exit 1
}
