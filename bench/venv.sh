# Sourced by the bench peer scripts: makes (once) a private virtualenv at $1 and installs the
# packages named after it when `import` of the modules in $2 fails. Never the system Python's
# packages. Usage: ensure_venv VENV "module1, module2" 'package==1.0' ...
ensure_venv() {
    local venv="$1" modules="$2"
    shift 2
    local python="${PYTHON:-python3}"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv" >&2
    fi
    if ! "$venv/bin/python" -c "import $modules" 2>/dev/null; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2
    fi
}
