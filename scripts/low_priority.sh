#!/usr/bin/env bash
# Run a command so that it takes only CPU time nothing else wants: the demo's own background build must not slow
# the demo a visitor is already using (a generation run beside it kept 2 % of its speed at normal priority).
#   a session of its own (setsid), whose autogroup is at nice 19 (Linux; no privilege needed),
#   the command at nice 19 and under SCHED_IDLE (chrt --idle, where util-linux has it).
# Elsewhere (macOS) it runs at nice 19.
#   bash scripts/low_priority.sh COMMAND [ARGS...]
set -euo pipefail
if [ "${RSDEMO_LOW_PRIORITY_SESSION:-}" != 1 ] && command -v setsid >/dev/null 2>&1; then
  # --wait: this process stays until the command ends (setsid forks when its caller leads a process group)
  RSDEMO_LOW_PRIORITY_SESSION=1 exec setsid --wait bash "$0" "$@"
fi
echo 19 > /proc/self/autogroup 2>/dev/null || true
if command -v chrt >/dev/null 2>&1 && chrt --idle 0 true 2>/dev/null; then
  exec nice -n 19 chrt --idle 0 "$@"
fi
exec nice -n 19 "$@"
