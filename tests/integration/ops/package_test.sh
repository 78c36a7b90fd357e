#!/usr/bin/env bash
# package_test.sh BUILD_DIR: the Debian package (ctest: package). Packs the tandem already built
# in BUILD_DIR with cpack (no second build), then checks the .deb: its name and version, the
# control fields (Depends: holds the package of every shared library the binary needs, and
# adduser), the files and their modes, the conffiles; runs the maintainer scripts with the
# system commands they call replaced by recorders; extracts it into a throw-away folder and
# has systemd-analyze verify the unit (pointed at the extracted binary: the real /usr/bin/tandem
# is not installed here, and verify checks that ExecStart exists); runs the extracted binary's
# --version and --help, starts it on a temp store with the packaged a.yaml and checks that it
# serves (HTTP and the NATS protocol); and runs lintian, failing on any tag that
# scripts/README.md does not explain.
set -euo pipefail
build="$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)"
src="$(cd "$(dirname "$0")/../../.." && pwd)"
tmp="$(mktemp -d)"
server_pid=""
lintian_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
  [ -n "$lintian_pid" ] && kill "$lintian_pid" 2>/dev/null && wait "$lintian_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "package_test: $*" >&2; exit 1; }
for tool in cpack dpkg-deb dpkg-shlibdeps systemd-analyze lintian curl python3; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/install-deps installs it)"
done

# ---- build the package from this build directory --------------------------------------------
version="$("$build/tandem" version)"
version="${version#tandem }"
(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack failed"; }
deb="$tmp/out/tandem_${version}_amd64.deb"
[ -f "$deb" ] || fail "no tandem_${version}_amd64.deb in: $(ls "$tmp/out")"
# lintian is the slow part: it runs while the rest is checked, and is read at the end.
lintian --fail-on none --tag-display-limit 0 "$deb" >"$tmp/lintian.log" 2>&1 &
lintian_pid=$!

# ---- control fields ---------------------------------------------------------------------------
info="$(dpkg-deb --info "$deb")"
field() { dpkg-deb --field "$deb" "$1"; }
[ "$(field Package)" = tandem ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), the binary says $version"
[ "$(field Architecture)" = amd64 ] || fail "Architecture: $(field Architecture)"
depends="$(field Depends)"
names="$(sed -E 's/\([^)]*\)//g; s/[|,]/\n/g; s/ //g' <<<"$depends")"  # one package name a line
grep -q -x -F adduser <<<"$names" || fail "Depends: lacks adduser: $depends"
# Every NEEDED library of the binary comes from a package that Depends: names (by its name or
# by a name it provides: libspdlog1.10 provides libspdlog1.10-fmt9).
for soname in $(objdump -p "$build/tandem" | awk '$1 == "NEEDED" {print $2}'); do
  owner="$( (dpkg -S "*/x86_64-linux-gnu/$soname" 2>/dev/null || true) | head -n 1 | cut -d: -f1)"
  [ -n "$owner" ] || fail "no installed package holds $soname"
  provides="$(dpkg-query -W -f='${Provides}' "$owner" | sed -E 's/\([^)]*\)//g; s/,/\n/g; s/ //g')"
  found=""
  for name in "$owner" $provides; do grep -q -x -F "$name" <<<"$names" && found=1; done
  [ -n "$found" ] || fail "Depends: lacks $owner (for $soname): $depends"
done
for script in postinst prerm postrm conffiles; do
  grep -q -E "^ +[0-9]+ bytes, +[0-9]+ lines +\*? *$script" <<<"$info" || fail "no $script in: $info"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -x -C "$tmp" --one-top-level=ctrl
diff <(sort "$tmp/ctrl/conffiles") <(printf '%s\n' /etc/tandem/a.yaml /etc/tandem/b.yaml \
  /etc/tandem/tandem.example.yaml) || fail "conffiles differ"

# ---- files and modes ------------------------------------------------------------------------
contents="$(dpkg-deb --contents "$deb")"
expect_file() {  # MODE PATH
  grep -q -E "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \\./${2#/}\$" <<<"$contents" ||
    fail "no $2 with mode $1 in: $contents"
}
expect_file -rwxr-xr-x /usr/bin/tandem
expect_file -rw-r--r-- /lib/systemd/system/tandem@.service
expect_file -rw-r--r-- /etc/tandem/a.yaml
expect_file -rw-r--r-- /etc/tandem/b.yaml
expect_file -rw-r--r-- /etc/tandem/tandem.example.yaml
expect_file -rw-r--r-- /usr/share/tandem/prometheus/tandem-rules.yml
expect_file -rw-r--r-- /usr/share/doc/tandem/copyright
expect_file -rw-r--r-- /usr/share/doc/tandem/changelog.gz

# ---- maintainer scripts, with the system commands they call recorded ------------------------
stubs="$tmp/stubs"
mkdir -p "$stubs"
for cmd in adduser install chown chmod systemctl rmdir dpkg-statoverride; do
  printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$cmd" "$tmp/calls" >"$stubs/$cmd"
  [ "$cmd" = dpkg-statoverride ] && echo 'exit 1' >>"$stubs/$cmd"  # no override set
  chmod +x "$stubs/$cmd"
done
printf '#!/bin/sh\nexit 2\n' >"$stubs/getent"  # the user does not exist yet
chmod +x "$stubs/getent"
for script in postinst prerm postrm; do sh -n "$tmp/ctrl/$script" || fail "$script: syntax"; done
PATH="$stubs:$PATH" sh -e "$tmp/ctrl/postinst" configure || fail "postinst configure failed"
grep -q -x 'adduser --system --group --home /var/lib/tandem --no-create-home --quiet tandem' \
  "$tmp/calls" || fail "postinst made no tandem system user: $(cat "$tmp/calls")"
grep -q -x 'install -d -m 0750 -o tandem -g tandem /var/lib/tandem' "$tmp/calls" ||
  fail "postinst made no /var/lib/tandem 0750 tandem:tandem: $(cat "$tmp/calls")"
: >"$tmp/calls"
PATH="$stubs:$PATH" sh -e "$tmp/ctrl/postrm" purge || fail "postrm purge failed"
grep -q -x 'rmdir /var/lib/tandem' "$tmp/calls" || fail "postrm purge: $(cat "$tmp/calls")"
if grep -q -E '^(rm|chown|chmod) ' "$tmp/calls"; then fail "postrm purge touched the store"; fi

# ---- the extracted unit, verified by systemd --------------------------------------------------
dpkg-deb -x "$deb" "$tmp/root"
unit="$tmp/root/lib/systemd/system/tandem@.service"
grep -q -x 'ExecStart=/usr/bin/tandem serve --config /etc/tandem/%i.yaml' "$unit" ||
  fail "the unit's ExecStart: $(grep ExecStart "$unit")"
mkdir -p "$tmp/units"
sed "s#^ExecStart=/usr/bin/tandem #ExecStart=$tmp/root/usr/bin/tandem #" "$unit" >"$tmp/units/tandem@a.service"
out="$(systemd-analyze verify --man=no "$tmp/units/tandem@a.service" 2>&1)" || fail "verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify complained: $out"
# The check bites: a unit with a wrong Type= is reported.
sed 's/^Type=notify$/Type=notfy/' "$tmp/units/tandem@a.service" >"$tmp/units/tandem@b.service"
bad="$(systemd-analyze verify --man=no "$tmp/units/tandem@b.service" 2>&1 || true)"
grep -q 'notfy' <<<"$bad" || fail "systemd-analyze verify accepted Type=notfy: $bad"

# ---- the extracted binary -----------------------------------------------------------------------
bin="$tmp/root/usr/bin/tandem"
"$bin" --version | grep -q -F "$version" || fail "--version: $("$bin" --version)"
"$bin" --help | grep -q serve || fail "--help lists no serve"
"$bin" serve --help | grep -q -- --log-format || fail "serve --help lists no --log-format"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
http="$(free_port)"
mkdir -p "$tmp/store"
"$bin" serve --config "$tmp/root/etc/tandem/a.yaml" --listen "127.0.0.1:$port" \
  --http "127.0.0.1:$http" --store "$tmp/store" --ft-peers "127.0.0.1:$port" >"$tmp/serve.log" 2>&1 &
server_pid=$!
active=""
for _ in $(seq 1 200); do  # 20 s at most
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http/streaming/isFTActive" || true)"
  [ "$code" = 200 ] && { active=1; break; }
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$active" ] || { cat "$tmp/serve.log"; fail "the packaged binary with a.yaml did not become active"; }
curl -sf "http://127.0.0.1:$http/healthz" | grep -q '"ok"' || fail "/healthz is not ok"
serverz="$(curl -sf "http://127.0.0.1:$http/streaming/serverz")"
grep -q '"state": *"FT_ACTIVE"' <<<"$serverz" || fail "serverz: $serverz"
grep -q '"name": *"a"' <<<"$serverz" || fail "serverz names no member a: $serverz"
# The NATS protocol on the client port: INFO, then CONNECT and PING answered by PONG.
exec 3<>"/dev/tcp/127.0.0.1/$port"
IFS= read -r -t 5 line <&3 || fail "no INFO on the client port"
[[ "$line" == INFO* ]] || fail "first line: $line"
printf 'CONNECT {"verbose":false}\r\nPING\r\n' >&3
IFS= read -r -t 5 line <&3 || fail "no answer to PING"
[[ "$line" == PONG* ]] || fail "PING answered with: $line"
exec 3<&-
kill -TERM "$server_pid"
for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then fail "no exit within 10 s of SIGTERM"; fi
rc=0
wait "$server_pid" || rc=$?
server_pid=""
[ "$rc" -eq 0 ] || { cat "$tmp/serve.log"; fail "exit status $rc after SIGTERM"; }

# ---- lintian: every tag it reports is explained in scripts/README.md --------------------------
lint_rc=0
wait "$lintian_pid" || lint_rc=$?
lintian_pid=""
# With --fail-on none a tag is no failure: a status other than 0 is lintian failing to run.
[ "$lint_rc" -eq 0 ] || { cat "$tmp/lintian.log"; fail "lintian exited $lint_rc"; }
unexplained=""
for tag in $(awk '/^[EWIPX]: /{print $3}' "$tmp/lintian.log" | sort -u); do
  grep -q -F "\`$tag\`" "$src/scripts/README.md" || unexplained+=" $tag"
done
[ -z "$unexplained" ] || { cat "$tmp/lintian.log"; fail "lintian tags not explained in scripts/README.md:$unexplained"; }

echo "package_test: $(basename "$deb") checked ($(wc -l <"$tmp/lintian.log") lintian line(s), all explained)"
