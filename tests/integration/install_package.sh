#!/usr/bin/env bash
# Distribution, as a user meets it (no database needed):
#  - `cmake --install` into a temporary prefix installs the binary, libecplan
#    with its public headers, ecplan.pc, the CMake package config, a man page
#    per command (holding that command's help text, line for line) and bash/zsh
#    completions;
#  - a tiny C program builds against the installed library twice, with
#    pkg-config and with find_package(ecplan), and parses an example plan;
#  - the bash completion completes commands, options and phases;
#  - cpack makes a .deb whose Depends are the Debian runtime packages
#    (libpq5, libjansson4, libcurl4, libssl3; t64 names on Debian 13), and
#    `dpkg -x` of it into an empty directory gives a working `ecplan --version`.
# Skipped (exit 77) in the sanitizer tree: its binary and library need the
# sanitizer runtime, which is no part of a package.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

src=${ECPLAN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${ECPLAN_BUILD_DIR:?ECPLAN_BUILD_DIR must name the build tree}
if grep -q '^ECPLAN_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
	echo "[$IT_NAME] skipped: a sanitizer build is not packaged" >&2
	exit 77
fi
version=$("$ECPLAN_BIN" --version | awk '{print $2}')
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "ecplan --version: [$version]"

# ---- cmake --install ---------------------------------------------------------------
prefix=$IT_TMP/prefix
cmake --install "$build" --prefix "$prefix" >"$IT_TMP/install.out" 2>&1 ||
	fail "cmake --install failed: $(cat "$IT_TMP/install.out")"
for f in bin/ecplan lib/libecplan.a include/ecplan/plan.h include/ecplan/webhook.h \
	lib/pkgconfig/ecplan.pc lib/cmake/ecplan/ecplanConfig.cmake lib/cmake/ecplan/ecplanTargets.cmake \
	lib/cmake/ecplan/ecplanConfigVersion.cmake share/man/man1/ecplan.1 \
	share/bash-completion/completions/ecplan share/zsh/vendor-completions/_ecplan \
	share/doc/ecplan/LICENSE; do
	[[ -f $prefix/$f ]] || fail "cmake --install did not install $f"
done
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_eq "ecplan $version" "$("$prefix/bin/ecplan" --version)" "the installed binary runs"

# A man page per command, holding its help text line for line (roff escapes undone).
mapfile -t commands < <("$ECPLAN_BIN" --help | sed -n '/^Commands:$/,/^$/p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
((${#commands[@]} >= 10)) || fail "ecplan --help lists ${#commands[@]} commands"
unroff() { sed -e 's/^\\&//' -e 's/\\e/\\/g' "$1"; }
for c in "${commands[@]}"; do
	page=$prefix/share/man/man1/ecplan-$c.1
	[[ -f $page ]] || fail "no man page ecplan-$c.1"
	"$ECPLAN_BIN" help "$c" | sed '1s/^usage: //' >"$IT_TMP/help.txt"
	missing=$(grep -vxF -f <(unroff "$page") "$IT_TMP/help.txt" | grep -v '^$' || true)
	[[ -z $missing ]] || fail "ecplan-$c.1 lacks lines of \`ecplan help $c\`: $missing"
	assert_contains "$(cat "$page")" ".TH ECPLAN-${c^^} 1" "ecplan-$c.1 is a section 1 man page"
done
assert_contains "$(unroff "$prefix/share/man/man1/ecplan.1")" "$("$ECPLAN_BIN" --help | sed -n 3p)" \
	"ecplan.1 holds ecplan --help"
if command -v man >/dev/null 2>&1; then
	MANWIDTH=80 man -l "$prefix/share/man/man1/ecplan-render.1" >"$IT_TMP/man.txt" 2>&1 ||
		fail "man cannot format ecplan-render.1: $(cat "$IT_TMP/man.txt")"
fi

# ---- a tiny program against the installed library --------------------------------------
mkdir -p "$IT_TMP/app"
cat >"$IT_TMP/app/main.c" <<'C'
#include <stdio.h>

#include <ecplan/plan.h>

int main(int argc, char **argv)
{
	ecplan_plan *plan = NULL;
	ecplan_diags d = ECPLAN_DIAGS_INIT;
	if (argc != 2 || ecplan_plan_load_file(&plan, argv[1], &d) != 0) {
		printf("invalid (%zu errors)\n", d.count);
		ecplan_diags_release(&d);
		return 1;
	}
	printf("%s %s.%s %s\n", plan->name, plan->schema, plan->table, plan->sha256);
	ecplan_plan_free(plan);
	ecplan_diags_release(&d);
	return 0;
}
C
example=$src/plans/users-email-lower.json
cflags_libs=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs ecplan) ||
	fail "pkg-config does not find ecplan.pc"
assert_contains "$cflags_libs" "-I$prefix/lib/pkgconfig/../../include" "ecplan.pc points into the prefix"
# shellcheck disable=SC2086
cc -o "$IT_TMP/app/with-pkgconfig" "$IT_TMP/app/main.c" $cflags_libs >"$IT_TMP/cc.out" 2>&1 ||
	fail "building against ecplan.pc failed: $(cat "$IT_TMP/cc.out")"
out_pc=$("$IT_TMP/app/with-pkgconfig" "$example")
[[ $out_pc =~ ^users-email-lower\ public\.users\ [0-9a-f]{64}$ ]] || fail "the pkg-config build printed: $out_pc"
IT_ASSERTS=$((IT_ASSERTS + 1))

cat >"$IT_TMP/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.20)
project(ecplan_consumer C)
find_package(ecplan 0.1 REQUIRED)
add_executable(with-cmake main.c)
target_link_libraries(with-cmake PRIVATE ecplan::ecplan)
CM
cmake -S "$IT_TMP/app" -B "$IT_TMP/app/build" -DCMAKE_PREFIX_PATH="$prefix" >"$IT_TMP/cmake.out" 2>&1 &&
	cmake --build "$IT_TMP/app/build" >>"$IT_TMP/cmake.out" 2>&1 ||
	fail "building with find_package(ecplan) failed: $(cat "$IT_TMP/cmake.out")"
assert_eq "$out_pc" "$("$IT_TMP/app/build/with-cmake" "$example")" "find_package(ecplan) build parses the plan alike"

# ---- completions ---------------------------------------------------------------------
complete_bash() { # WORDS...: what bash completes for the last word
	bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _ecplan; printf "%s\n" "${COMPREPLY[@]}"' \
		_ "$prefix/share/bash-completion/completions/ecplan" "$@"
}
assert_eq "render
rollback
resume" "$(complete_bash ecplan r)" "bash completes commands"
assert_eq "--phase" "$(complete_bash ecplan render --ph)" "bash completes a command's options"
assert_contains "$(complete_bash ecplan advance x.json --to "")" "switch" "bash completes phases after --to"
assert_contains "$(complete_bash ecplan webhook test x.json --event sw)" "switch.after" "bash completes events"
assert_eq "test" "$(complete_bash ecplan webhook "")" "bash completes the webhook subcommand"
command -v zsh >/dev/null 2>&1 || fail "zsh not found (bash scripts/install-deps.sh)"
zsh -n "$prefix/share/zsh/vendor-completions/_ecplan" 2>"$IT_TMP/zsh.err" ||
	fail "zsh cannot parse _ecplan: $(cat "$IT_TMP/zsh.err")"
IT_ASSERTS=$((IT_ASSERTS + 1))
for c in "${commands[@]}"; do
	assert_contains "$(cat "$prefix/share/zsh/vendor-completions/_ecplan")" "'$c:" "zsh completion offers $c"
done

# ---- the .deb --------------------------------------------------------------------------
(cd "$build" && cpack -G DEB -B "$IT_TMP/pkg") >"$IT_TMP/cpack.out" 2>&1 ||
	fail "cpack failed: $(cat "$IT_TMP/cpack.out")"
debs=("$IT_TMP"/pkg/*.deb)
((${#debs[@]} == 1)) && [[ -f ${debs[0]} ]] || fail "cpack made ${#debs[@]} packages: $(ls "$IT_TMP/pkg")"
deb=${debs[0]}
assert_eq ecplan "$(dpkg-deb -f "$deb" Package)" "package name"
assert_eq "$version" "$(dpkg-deb -f "$deb" Version)" "package version"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libpq5 libjansson4 libcurl4 libssl3 libc6; do
	[[ $depends =~ (^|, )$lib(t64)?( |,|$) ]] || fail "Depends lacks $lib: $depends"
done
IT_ASSERTS=$((IT_ASSERTS + 1))
assert_not_contains "$depends" "asan" "no sanitizer runtime in Depends"
mkdir "$IT_TMP/root"
dpkg -x "$deb" "$IT_TMP/root"
assert_eq "ecplan $version" "$("$IT_TMP/root/usr/bin/ecplan" --version)" "ecplan --version from the unpacked .deb"
[[ -f $IT_TMP/root/usr/share/man/man1/ecplan-advance.1 && -f $IT_TMP/root/usr/share/bash-completion/completions/ecplan ]] ||
	fail "the .deb lacks the man pages or the bash completion: $(dpkg-deb -c "$deb")"
[[ ! -e $IT_TMP/root/usr/include ]] || fail "the runtime .deb holds headers"
IT_ASSERTS=$((IT_ASSERTS + 1))
echo "[$IT_NAME] $(basename "$deb"): Depends: $depends" >&2
pass
