package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// objects is every manifest of one file, decoded into the API types.
type objects struct {
	file        string
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	pdbs        []*policyv1.PodDisruptionBudget
	hpas        []*autoscalingv2.HorizontalPodAutoscaler
}

// newObject is the API type for each apiVersion and kind we ship.
func newObject(tm metav1.TypeMeta) any {
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "v1 Service":
		return &corev1.Service{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	}
	return nil
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// load decodes every document of every *.yaml here strictly: an unknown
// or misspelt field, a duplicate key or a wrong type fails.
func load(t *testing.T) []objects {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests found (%v)", err)
	}
	var out []objects
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs := objects{file: f}
		for i, doc := range docSeparator.Split(string(raw), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
				t.Fatalf("%s document %d: %v", f, i+1, err)
			}
			obj := newObject(tm)
			if obj == nil {
				t.Fatalf("%s document %d: %s %s is not a kind this test knows; add it to newObject", f, i+1, tm.APIVersion, tm.Kind)
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Fatalf("%s document %d (%s): %v", f, i+1, tm.Kind, err)
			}
			switch o := obj.(type) {
			case *appsv1.Deployment:
				objs.deployments = append(objs.deployments, o)
			case *corev1.Service:
				objs.services = append(objs.services, o)
			case *policyv1.PodDisruptionBudget:
				objs.pdbs = append(objs.pdbs, o)
			case *autoscalingv2.HorizontalPodAutoscaler:
				objs.hpas = append(objs.hpas, o)
			}
		}
		if len(objs.deployments) != 1 {
			t.Fatalf("%s: %d Deployments, want one a file", f, len(objs.deployments))
		}
		out = append(out, objs)
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestStrictDecodeCatchesMistakes(t *testing.T) {
	bad := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n      terminationGracePeriod: 30\n"
	if err := yaml.UnmarshalStrict([]byte(bad), &appsv1.Deployment{}); err == nil {
		t.Fatal("a misspelt field decoded: the strict check checks nothing")
	}
}

// The selectors of every Service, PodDisruptionBudget and autoscaler find
// the Deployment's pods, and the pods carry what those need.
func TestManifestsFitTogether(t *testing.T) {
	for _, o := range load(t) {
		d := o.deployments[0]
		pods := labels.Set(d.Spec.Template.Labels)
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || !sel.Matches(pods) {
			t.Errorf("%s: the Deployment's selector does not match its pods (%v)", o.file, err)
		}
		if ru := d.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
			t.Errorf("%s: rolling updates must keep maxUnavailable 0 (a new pod is ready before an old one stops)", o.file)
		}
		c := d.Spec.Template.Spec.Containers[0]
		for _, s := range o.services {
			if !labels.SelectorFromSet(s.Spec.Selector).Matches(pods) {
				t.Errorf("%s: Service %s selects no pod of the Deployment", o.file, s.Name)
			}
			for _, p := range s.Spec.Ports {
				if _, ok := containerPort(c, p.TargetPort); !ok {
					t.Errorf("%s: Service %s targets port %s, which the container does not declare", o.file, s.Name, p.TargetPort.String())
				}
			}
		}
		if len(o.pdbs) == 0 && o.file == "hello-go.yaml" {
			t.Errorf("%s: no PodDisruptionBudget", o.file)
		}
		for _, p := range o.pdbs {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil || !sel.Matches(pods) {
				t.Errorf("%s: PodDisruptionBudget %s selects no pod of the Deployment", o.file, p.Name)
			}
		}
		for _, h := range o.hpas {
			if h.Spec.ScaleTargetRef.Kind != "Deployment" || h.Spec.ScaleTargetRef.Name != d.Name {
				t.Errorf("%s: autoscaler %s scales %v, not the Deployment %s", o.file, h.Name, h.Spec.ScaleTargetRef, d.Name)
			}
			if _, ok := c.Resources.Requests[corev1.ResourceCPU]; !ok {
				t.Errorf("%s: autoscaling on CPU utilization needs a CPU request on the container", o.file)
			}
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s: the container has no CPU or memory request", o.file)
		}
	}
}

// served is what `supervise check --json` says the container's args
// configure (its "uwsgi" object: uWSGI's option names, the ini's units).
type served struct {
	Sockets           []struct{ Addr, Proto string }
	Health            string
	Stats             string
	StatsHTTP         bool
	ShutdownDelay     time.Duration
	WorkerReloadMercy time.Duration
	// the rest only for comparing the images' CMD with the Deployments
	Processes, Threads int
	Module, Callable   string
	NeedApp            bool
}

// checkJSON is the part of `supervise check --json` the tests read.
type checkJSON struct {
	Uwsgi struct {
		HTTPSocket        []string `json:"http-socket"`
		Socket            []string `json:"socket"`
		Health            string   `json:"health"`
		Stats             string   `json:"stats"`
		StatsHTTP         bool     `json:"stats-http"`
		ShutdownDelay     int      `json:"shutdown-delay"`
		WorkerReloadMercy *int     `json:"worker-reload-mercy"`
		Processes         int      `json:"processes"`
		Threads           int      `json:"threads"`
		Module            string   `json:"module"`
		Callable          string   `json:"callable"`
		NeedApp           bool     `json:"need-app"`
	} `json:"uwsgi"`
}

func (j checkJSON) served() served {
	u := j.Uwsgi
	s := served{Health: u.Health, Stats: u.Stats, StatsHTTP: u.StatsHTTP,
		ShutdownDelay: time.Duration(u.ShutdownDelay) * time.Second, WorkerReloadMercy: 60 * time.Second,
		Processes: u.Processes, Threads: u.Threads, Module: u.Module, Callable: u.Callable, NeedApp: u.NeedApp}
	if u.WorkerReloadMercy != nil { // unset: supervise's default, uWSGI's 60 s
		s.WorkerReloadMercy = time.Duration(*u.WorkerReloadMercy) * time.Second
	}
	for _, a := range u.HTTPSocket {
		s.Sockets = append(s.Sockets, struct{ Addr, Proto string }{a, "http"})
	}
	for _, a := range u.Socket {
		s.Sockets = append(s.Sockets, struct{ Addr, Proto string }{a, "uwsgi"})
	}
	return s
}

// buildSupervise builds the binary from the main module (two levels up).
func buildSupervise(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "supervise")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/supervise")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building supervise: %v\n%s", err, out)
	}
	return bin
}

// check runs `supervise check --json` on the container's args, with the
// image's program (absent here) replaced by one that exists.
func check(t *testing.T, bin string, args []string) served {
	t.Helper()
	args = append([]string(nil), args...)
	for i, a := range args {
		if a == "--" && i+1 < len(args) {
			args[i+1] = "/bin/true" // /app/hello exists only in the image
		}
	}
	// --no-import: the app lives in the image, not on this machine.
	cmd := exec.Command(bin, append([]string{"check", "--json", "--no-import"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("supervise check %v: %v\n%s", args, err, stderr.String())
	}
	var j checkJSON
	if err := json.Unmarshal(out, &j); err != nil {
		t.Fatalf("supervise check --json: %v\n%s", err, out)
	}
	return j.served()
}

func port(t *testing.T, addr string) int32 {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.Atoi(addr[i+1:])
	if i < 0 || err != nil {
		t.Fatalf("%q is no host:port", addr)
	}
	return int32(p)
}

// containerPort resolves a named or numbered port of the container.
func containerPort(c corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// The probes ask the paths supervise serves, on the port its health
// option binds; the app and metrics ports are the sockets and stats it
// binds; the grace period covers shutdown-delay and worker-reload-mercy.
func TestProbesAndPortsMatchWhatSuperviseServes(t *testing.T) {
	all := load(t)
	bin := buildSupervise(t)
	for _, o := range all {
		d := o.deployments[0]
		c := d.Spec.Template.Spec.Containers[0]
		cfg := check(t, bin, append(c.Command, c.Args...))
		if cfg.Health == "" {
			t.Errorf("%s: the container's args set no health address", o.file)
			continue
		}
		for _, pr := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
			if pr.probe == nil || pr.probe.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s", o.file, pr.name)
				continue
			}
			g := pr.probe.HTTPGet
			if g.Path != pr.path {
				t.Errorf("%s: %s asks %s; supervise answers %s there", o.file, pr.name, g.Path, pr.path)
			}
			if p, ok := containerPort(c, g.Port); !ok || p != port(t, cfg.Health) {
				t.Errorf("%s: %s port %s is %d; the health option binds %s", o.file, pr.name, g.Port.String(), p, cfg.Health)
			}
			if pr.probe.TimeoutSeconds < 1 {
				t.Errorf("%s: %s has no timeoutSeconds (the master answers within 800ms)", o.file, pr.name)
			}
		}
		var app int32
		for _, s := range cfg.Sockets {
			if s.Proto == "http" {
				app = port(t, s.Addr)
			}
		}
		if p, ok := containerPort(c, intstr.FromString("http")); !ok || p != app {
			t.Errorf("%s: container port http is %d; supervise serves HTTP on %d", o.file, p, app)
		}
		ann := d.Spec.Template.Annotations
		if ann["prometheus.io/scrape"] == "true" {
			if !cfg.StatsHTTP || cfg.Stats == "" || ann["prometheus.io/port"] != fmt.Sprint(port(t, cfg.Stats)) || ann["prometheus.io/path"] != "/metrics" {
				t.Errorf("%s: Prometheus annotations %v do not match stats %q (stats-http %v, /metrics)", o.file, ann, cfg.Stats, cfg.StatsHTTP)
			}
		}
		grace := d.Spec.Template.Spec.TerminationGracePeriodSeconds
		need := int64((cfg.ShutdownDelay + cfg.WorkerReloadMercy).Seconds()) + 5
		if grace == nil || *grace != need {
			got := "unset"
			if grace != nil {
				got = fmt.Sprint(*grace)
			}
			t.Errorf("%s: terminationGracePeriodSeconds %s, want shutdown-delay %v + worker-reload-mercy %v + 5 s = %d",
				o.file, got, cfg.ShutdownDelay, cfg.WorkerReloadMercy, need)
		}
		if cfg.ShutdownDelay < 2*time.Duration(c.ReadinessProbe.PeriodSeconds)*time.Second {
			t.Errorf("%s: shutdown-delay %v is shorter than two readiness periods; the pod may get new requests while it drains", o.file, cfg.ShutdownDelay)
		}
	}
}

// imageCmd reads the CMD of each stage of the Dockerfile at the
// repository's root: the images' defaults when run without args.
func imageCmd(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(raw), "\\\n", " ") // join continued lines
	out := map[string][]string{}
	stage := ""
	for _, l := range strings.Split(text, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 4 && f[0] == "FROM" && strings.EqualFold(f[2], "AS"):
			stage = f[3]
		case len(f) > 1 && f[0] == "CMD":
			var args []string
			if err := json.Unmarshal([]byte(strings.TrimSpace(strings.TrimPrefix(l, "CMD"))), &args); err != nil {
				t.Fatalf("Dockerfile stage %s: CMD is not a JSON list: %v", stage, err)
			}
			out[stage] = args
		}
	}
	return out
}

// Each image run without args serves what its Deployment configures, so
// `docker run IMAGE` and the pod behave alike.
func TestImageDefaultsMatchTheDeployments(t *testing.T) {
	cmds := imageCmd(t)
	bin := buildSupervise(t)
	for file, stage := range map[string]string{"hello-go.yaml": "go-app", "seed-python.yaml": "python-app"} {
		args, ok := cmds[stage]
		if !ok {
			t.Errorf("Dockerfile has no CMD for stage %s", stage)
			continue
		}
		var d *appsv1.Deployment
		for _, o := range load(t) {
			if o.file == file {
				d = o.deployments[0]
			}
		}
		if d == nil {
			t.Fatalf("no %s", file)
		}
		c := d.Spec.Template.Spec.Containers[0]
		if got, want := check(t, bin, args), check(t, bin, c.Args); fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			t.Errorf("the %s image's CMD serves %+v; %s configures %+v", stage, got, file, want)
		}
	}
}
