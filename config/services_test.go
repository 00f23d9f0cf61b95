package config

import (
	"strings"
	"testing"
	"time"
)

func TestServicesOptions(t *testing.T) {
	c := mustLoad(t, []string{"--spooler", "/a", "--spooler", "/b", "--spooler-processes", "2", "--spooler-frequency", "5",
		"--spooler-import", "tasks", "--spooler-max-tasks", "10", "--spooler-harakiri", "30", "--spooler-chdir", "/tmp",
		"--mules", "2", "--mule", "script.py", "--mule", "", "--farm", "f:1,3"})
	s := c.Services
	if strings.Join(s.Spooler, ",") != "/a,/b" || s.SpoolerProcesses != 2 || s.SpoolerFrequency != 5*time.Second ||
		s.SpoolerImport[0] != "tasks" || s.SpoolerMaxTasks != 10 || s.SpoolerHarakiri != 30*time.Second || s.SpoolerChdir != "/tmp" {
		t.Errorf("spooler settings %+v", s)
	}
	// uWSGI's python plugin spells spooler-import three ways; all add to one list.
	c = mustLoad(t, []string{"--spooler-python-import", "a", "--spooler-pyimport", "b", "--spooler-py-import", "c.py"})
	if got := strings.Join(c.Services.SpoolerImport, ","); got != "a,b,c.py" {
		t.Errorf("spooler imports %q, want a,b,c.py", got)
	}
	if strings.Join(s.Mule, "|") != "||script.py|" || len(s.Farm) != 1 || s.Farm[0].String() != "f:1,3" {
		t.Errorf("mules %q farms %v", s.Mule, s.Farm)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mules", "1", "--farm", "f:1,2"}, "farm f names mule 2, but only 1 mules"},
		{[]string{"--mules", "2", "--farm", "f:1", "--farm", "f:2"}, `farm "f" is declared twice`},
		{[]string{"--farm", "nomules"}, "a farm is NAME:MULE"},
		{[]string{"--farm", "f:x"}, "not a mule id"},
		{[]string{"--mules", "-1"}, "not a number of mules"},
		{[]string{"--spooler-max-tasks", "-3"}, "spooler-max-tasks = -3"},
		{[]string{"--exec", "/bin/true", "--spooler", "/a"}, "cannot be used with exec"},
	} {
		_, err := Load(tc.args, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
