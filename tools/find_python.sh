# Sourced by tools/setup.sh and bench/setup_ngsolve.sh: find_python prints the path of a
# Python >= 3.12 ($LIANODE_PYTHON, then python3.12 / python3.13 / python3 on PATH, then the
# versions pyenv holds) or returns 1.
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
    local c
    for c in ${LIANODE_PYTHON:-} python3.12 python3.13 python3; do
        if command -v "$c" >/dev/null 2>&1 && ok "$(command -v "$c")"; then
            command -v "$c"; return 0
        fi
    done
    local root
    root=$( (pyenv root 2>/dev/null) || echo "$HOME/.pyenv")
    for c in "$root"/versions/3.12*/bin/python3 "$root"/versions/3.13*/bin/python3; do
        if [ -x "$c" ] && ok "$c"; then echo "$c"; return 0; fi
    done
    return 1
}
