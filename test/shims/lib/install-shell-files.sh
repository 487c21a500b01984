# shellcheck shell=bash
# A stand-in for nixpkgs' installShellFiles setup hook
# (pkgs/by-name/in/installShellFiles/setup-hook.sh), for
# test/integration/nix/package-build.test.ts, which runs nix/package.nix's
# postInstall without nixpkgs' builders. It follows the hook's documented
# contract for the forms package.nix uses and fails loudly on any other:
#
#   installManPage PATH...
#     PATH's name ends in .<section>[.gz]; installed with mode 644 as
#     $out/share/man/man<section>/<name>.
#   installShellCompletion [--cmd NAME] (--bash|--zsh|--fish) PATH...
#     PATH may be a named pipe (`<(cmd)`), which needs a shell flag and --cmd.
#     With --cmd NAME the file is NAME.bash in share/bash-completion/completions,
#     _NAME in share/zsh/site-functions, NAME.fish in
#     share/fish/vendor_completions.d. An empty result is an error.
#
# compressManPages DIR stands for the fixup hook of the same name
# (pkgs/build-support/setup-hooks/compress-man-pages.sh): every regular file
# under DIR/share/man not already compressed is gzipped (`gzip -f`).

installManPage() {
    local arg name section
    for arg in "$@"; do
        case "$arg" in
        -*) echo "installManPage (shim): flag $arg is not modelled" >&2; return 1;;
        esac
        name=${arg##*/}
        section=${name%.gz}
        section=${section##*.}
        if [[ -z "$section" || "$section" == "${name%.gz}" ]]; then
            echo "installManPage (shim): path missing manpage section suffix: $arg" >&2
            return 1
        fi
        install -D --mode=644 --no-target-directory -- "$arg" "${out:?}/share/man/man$section/$name"
    done
}

installShellCompletion() {
    local shell='' cmd='' arg dir file
    while (($#)); do
        arg=$1
        shift
        case "$arg" in
        --bash|--zsh|--fish) shell=${arg#--}; continue;;
        --cmd) cmd=${1:?installShellCompletion (shim): --cmd needs a name}; shift; continue;;
        -*) echo "installShellCompletion (shim): flag $arg is not modelled" >&2; return 1;;
        esac
        if [[ -z "$shell" || -z "$cmd" ]]; then
            echo "installShellCompletion (shim): $arg needs a shell flag and --cmd (only that form is modelled)" >&2
            return 1
        fi
        case "$shell" in
        bash) dir=bash-completion/completions; file=$cmd.bash;;
        zsh) dir=zsh/site-functions; file=_$cmd;;
        fish) dir=fish/vendor_completions.d; file=$cmd.fish;;
        esac
        mkdir -p "${out:?}/share/$dir"
        cat "$arg" >"$out/share/$dir/$file"
        if [[ ! -s "$out/share/$dir/$file" ]]; then
            echo "installShellCompletion (shim): installed shell completion file $out/share/$dir/$file does not exist or has zero size" >&2
            return 1
        fi
    done
}

compressManPages() {
    local dir=$1
    [[ -d "$dir/share/man" && ! -L "$dir/share" && ! -L "$dir/share/man" ]] || return 0
    find "$dir/share/man/" -type f -a '!' -regex '.*\.\(bz2\|gz\|xz\)$' -print0 | xargs -0 -r -n1 gzip -f
}
