#!/usr/bin/env bash
# A scripted session in a real terminal (tmux): what a new user types on the
# first day, and what the screen shows. Run from anywhere, as root on the
# machine that runs the tests (the demo needs scripts/testbed):
#
#   docs/session/record.sh            # writes docs/session/*.txt
#
# It starts a private tmux server (socket gitopsd-record), a 160x50 window
# with a plain bash (no rc files, prompt "$ "), types each command with
# send-keys, waits for the prompt to come back (PROMPT_COMMAND signals a
# tmux wait-for channel; tmux remembers a signal sent before the wait), and
# writes the screen (capture-pane -p, the whole scrollback of that step) to
# one text file per step. Re-running it replaces the files; it kills only
# the tmux server it started. Needs tmux, bash, man (else nroff), node/npm,
# and an `npm ci` done in the project.
set -euo pipefail

project=$(cd "$(dirname "$0")/../.." && pwd)
out="$project/docs/session"
sock=gitopsd-record
chan="gitopsd-record-$$"
# The demo takes 70 s at load 3 and 160 s at load 13, plus the build.
step_timeout=${RECORD_STEP_TIMEOUT:-900}

command -v tmux >/dev/null || { echo "record.sh: tmux is not installed; install it (apt-get install tmux)" >&2; exit 69; }

t() { tmux -L "$sock" "$@"; }
cleanup() { t kill-server 2>/dev/null || true; }
trap cleanup EXIT
cleanup

# The prompt signals the channel each time it is drawn: a finished command.
t -f /dev/null new-session -d -s rec -x 160 -y 50 \
  env -i HOME="$HOME" TERM=xterm-256color LANG=C.UTF-8 PATH="$project/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin" \
  PS1='$ ' PROMPT_COMMAND="tmux -L $sock wait-for -S $chan" MANPAGER=less LESS=-R \
  bash --norc --noprofile
t set-option -g history-limit 20000 >/dev/null
wait_prompt() { timeout "$step_timeout" tmux -L "$sock" wait-for "$chan"; }
wait_prompt # the first prompt

# Wait until the visible screen shows a line matching $1 (for screens that
# are not followed by a prompt: a completion, a pager).
wait_screen() {
  local i
  for ((i = 0; i < 300; i++)); do
    t capture-pane -p -t rec | grep -qE "$1" && return 0
    sleep 0.2
  done
  echo "record.sh: the screen never showed /$1/:" >&2
  t capture-pane -p -t rec >&2
  exit 1
}

# Start a step on an empty screen and scrollback.
fresh() {
  t send-keys -t rec 'clear' Enter
  wait_prompt
  t clear-history -t rec
}
# Type a command and wait for its prompt.
type_cmd() {
  t send-keys -t rec -l "$1"
  t send-keys -t rec Enter
  wait_prompt
}
# The whole scrollback of the step, without the trailing empty lines.
screen() { t capture-pane -p -J -S - -E - -t rec | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'; }
save() {
  screen >"$out/$1"
  echo "record.sh: wrote docs/session/$1"
}
# Several screens of one step in one file, each under a "--- what ---" line.
snap() {
  printf -- '--- %s ---\n' "$2" >>"$out/$1"
  screen >>"$out/$1"
}

type_cmd "cd $(printf '%q' "$project")"

# 1. Completion: load it into this bash, then TAB after "gitopsd gol".
fresh
: >"$out/01-completion.txt"
type_cmd 'source <(gitopsd completion bash)'
t send-keys -t rec -l 'gitopsd gol'
wait_screen '^\$ gitopsd gol$'
snap 01-completion.txt 'typed "gitopsd gol"'
t send-keys -t rec Tab
wait_screen '^\$ gitopsd golden ?$'
snap 01-completion.txt 'then TAB'
# A double TAB lists what may follow "gitopsd golden ".
t send-keys -t rec Tab Tab
wait_screen 'pin +rollback +show'
snap 01-completion.txt 'then TAB TAB'
echo "record.sh: wrote docs/session/01-completion.txt"
t send-keys -t rec C-c
wait_prompt

# 2. The man page, as built (dist/man/gitopsd.1); `npm run build` makes it.
fresh
if [ ! -f "$project/dist/man/gitopsd.1" ]; then type_cmd 'npm run build --silent'; fresh; fi
if command -v man >/dev/null; then
  t send-keys -t rec -l 'man -l dist/man/gitopsd.1'
else
  t send-keys -t rec -l 'nroff -man dist/man/gitopsd.1 | less'
fi
t send-keys -t rec Enter
wait_screen '^NAME'
t capture-pane -p -J -t rec >"$out/02-man.txt"
echo "record.sh: wrote docs/session/02-man.txt"
t send-keys -t rec q
wait_prompt

# 3. The demo (README's quick start), whole output.
fresh
type_cmd 'npm run demo'
save 03-demo.txt

# 4. Commands on a demo host, through the wrapper the demo leaves.
fresh
type_cmd 'demo-fleet/gitopsd alpha status'
type_cmd 'demo-fleet/gitopsd beta sync status'
type_cmd 'demo-fleet/gitopsd alpha golden show'
save 04-demo-host.txt
