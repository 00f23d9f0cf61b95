package python_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/worker/python"
)

// uwsgi.spool() writes uWSGI's task format (header, vars, body; at= as
// the mtime; priority as a subdirectory) and refuses what uWSGI refuses;
// the reader takes every well-formed file and raises ValueError (the
// spooler moves the file aside) on each kind of malformed one.
func TestSpoolFileFormat(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	if _, err := python.WriteAll(dir, 0o600); err != nil {
		t.Fatal(err)
	}
	spool := filepath.Join(dir, "spool")
	os.Mkdir(spool, 0o700)
	script := `
import json, os, struct, sys, importlib.util
os.environ["SUPERVISE_SERVICES"] = json.dumps({"board": -1, "spoolers": [{"dir": sys.argv[2], "wake": -1, "slots": []}]})
spec = importlib.util.spec_from_file_location("_supervise_spooler", sys.argv[1])
sp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sp)
path = sp.spool({b"a": b"1", "b": "x", b"body": b"BODY", b"at": b"2000000000.5"})
assert isinstance(path, bytes) and os.path.basename(path).startswith(b"uwsgi_spoolfile_on_"), path
data = open(path, "rb").read()
vars_block = struct.pack("<H", 1) + b"a" + struct.pack("<H", 1) + b"1" + struct.pack("<H", 1) + b"b" + struct.pack("<H", 1) + b"x" \
    + struct.pack("<H", 2) + b"at" + struct.pack("<H", 12) + b"2000000000.5"
assert data == struct.pack("<BHB", 17, len(vars_block), 0) + vars_block + b"BODY", data
assert int(os.stat(path).st_mtime) == 2000000000
d = sp.spooler_get_task(path)
assert d == {"spooler_task_name": os.path.basename(path), b"a": b"1", b"b": b"x", b"at": b"2000000000.5", "body": b"BODY"}, d
assert sp.spooler_jobs() == [path], sp.spooler_jobs()
p = sp.spool(a=b"2", priority=b"7")
assert os.path.dirname(p) == os.path.join(sys.argv[2], "7").encode(), p
for bad in ({b"n": 5}, {b"priority": b"../x"}, {b"spooler": b"/elsewhere"}, {b"at": b"soon"}, {b"big": b"x" * 70000}):
    try:
        sp.spool(bad)
    except ValueError:
        pass
    else:
        raise AssertionError("spool(%r) did not raise" % list(bad))
try:
    sp.spool("not a dict")
except ValueError as e:
    assert "dictionary" in str(e)
good = struct.pack("<BHB", 17, 6, 0) + struct.pack("<H", 1) + b"k" + struct.pack("<H", 1) + b"v"
assert sp._parse(good) == ({b"k": b"v"}, b"")
for bad in (b"", b"\x11\x00", struct.pack("<BHB", 17, 50, 0) + b"ab", good[:-1] + b"",
            struct.pack("<BHB", 17, 3, 0) + struct.pack("<H", 9) + b"k", struct.pack("<BHB", 17, 5, 0) + struct.pack("<H", 1) + b"k" + struct.pack("<H", 1)):
    try:
        sp._parse(bad)
    except ValueError:
        continue
    raise AssertionError("parsed %r" % bad)
assert sorted(["10", "9", "uwsgi_spoolfile_on_b", "uwsgi_spoolfile_on_a"], key=sp._version_key) == ["9", "10", "uwsgi_spoolfile_on_a", "uwsgi_spoolfile_on_b"]
print("ok")
`
	out, err := exec.Command("/usr/bin/python3", "-c", script, filepath.Join(dir, "spooler.py"), spool).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("%v\n%s", err, out)
	}
}
