package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/dmbench/dmbench/scenarios"
)

// manifests are the objects of this folder's YAML files, by kind.
type manifests struct {
	jobs       map[string]*batchv1.Job
	claims     map[string]*corev1.PersistentVolumeClaim
	configMaps map[string]*corev1.ConfigMap
	files      map[string]string // object "Kind/name" → its file
}

// decode decodes one YAML document strictly (unknown or duplicate fields are errors)
// into the API type its apiVersion and kind name.
func decode(doc []byte) (any, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "batch/v1 Job":
		obj = &batchv1.Job{}
	case "v1 PersistentVolumeClaim":
		obj = &corev1.PersistentVolumeClaim{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	default:
		return nil, fmt.Errorf("apiVersion %q kind %q: not one this folder should hold", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// readManifests decodes every document of every *.yaml file here.
func readManifests(t *testing.T) *manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	m := &manifests{jobs: map[string]*batchv1.Job{}, claims: map[string]*corev1.PersistentVolumeClaim{},
		configMaps: map[string]*corev1.ConfigMap{}, files: map[string]string{}}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			obj, err := decode([]byte(doc))
			if err != nil {
				t.Errorf("%s document %d: %v", file, i+1, err)
				continue
			}
			var key string
			switch o := obj.(type) {
			case *batchv1.Job:
				key = "Job/" + o.Name
				m.jobs[o.Name] = o
			case *corev1.PersistentVolumeClaim:
				key = "PersistentVolumeClaim/" + o.Name
				m.claims[o.Name] = o
			case *corev1.ConfigMap:
				key = "ConfigMap/" + o.Name
				m.configMaps[o.Name] = o
			}
			if prev, dup := m.files[key]; dup {
				t.Errorf("%s is in %s and in %s", key, prev, file)
			}
			m.files[key] = file
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestDecodeStrictly: decoding is strict, so a misspelt field cannot pass unnoticed.
func TestDecodeStrictly(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"good", "apiVersion: batch/v1\nkind: Job\nspec:\n  completionMode: Indexed\n", ""},
		{"misspelt field", "apiVersion: batch/v1\nkind: Job\nspec:\n  completionsMode: Indexed\n", `unknown field "completionsMode"`},
		{"duplicate field", "apiVersion: v1\nkind: ConfigMap\ndata: {}\ndata: {}\n", "already set"},
		{"wrong type", "apiVersion: batch/v1\nkind: Job\nspec:\n  parallelism: three\n", "cannot unmarshal"},
		{"unknown kind", "apiVersion: apps/v1\nkind: Deployment\n", "not one this folder should hold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode([]byte(tt.doc))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestManifests decodes every manifest strictly and checks that the objects are those a
// sharded run needs.
func TestManifests(t *testing.T) {
	m := readManifests(t)
	want := []string{"ConfigMap/dmbench-scenario", "Job/dmbench-merge", "Job/dmbench-shards", "PersistentVolumeClaim/dmbench-results"}
	var got []string
	for k := range m.files {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("objects %q, want %q", got, want)
	}
}

// container returns a job's one container.
func container(t *testing.T, j *batchv1.Job) *corev1.Container {
	t.Helper()
	if n := len(j.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("job %s has %d containers, want 1", j.Name, n)
	}
	return &j.Spec.Template.Spec.Containers[0]
}

// flag returns the value after name in args, "" when absent.
func flag(args []string, name string) string {
	i := slices.Index(args, name)
	if i < 0 || i+1 >= len(args) {
		return ""
	}
	return args[i+1]
}

// env returns a container's variable: its value, or for one from a field, "fieldRef:"
// and the field's path.
func env(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name != name {
			continue
		}
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			return "fieldRef:" + e.ValueFrom.FieldRef.FieldPath, true
		}
		return e.Value, true
	}
	return "", false
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand replaces $(VAR) in s as the kubelet does, with vars; index is
// JOB_COMPLETION_INDEX's value.
func expand(c *corev1.Container, s string, index int) string {
	return varRef.ReplaceAllStringFunc(s, func(ref string) string {
		name := varRef.FindStringSubmatch(ref)[1]
		if name == "JOB_COMPLETION_INDEX" {
			return strconv.Itoa(index)
		}
		v, _ := env(c, name)
		return v
	})
}

// checkCommon checks what both jobs need: every $(VAR) of the arguments declared (the
// kubelet leaves an undeclared one as it is), pods that are not restarted, a non-root
// user whose group owns the results volume, mounted from the claim.
func checkCommon(t *testing.T, m *manifests, j *batchv1.Job) (claimMount string) {
	t.Helper()
	c := container(t, j)
	for _, a := range c.Args {
		for _, ref := range varRef.FindAllStringSubmatch(a, -1) {
			if _, ok := env(c, ref[1]); !ok {
				t.Errorf("job %s: argument %q names $(%s), which its env does not declare", j.Name, a, ref[1])
			}
		}
	}
	spec := j.Spec.Template.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever || j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit != 0 {
		t.Errorf("job %s: restart policy %q, backoff limit %v: want Never and 0 (a run cannot be retried)", j.Name, spec.RestartPolicy, j.Spec.BackoffLimit)
	}
	if sc := spec.SecurityContext; sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.FSGroup == nil || sc.RunAsUser == nil || *sc.FSGroup != *sc.RunAsUser {
		t.Errorf("job %s: pod security context %+v: want non-root, with the results volume's group its user's", j.Name, sc)
	}
	var claim string
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
			for _, vm := range c.VolumeMounts {
				if vm.Name == v.Name {
					claimMount = vm.MountPath
				}
			}
		}
	}
	if m.claims[claim] == nil || claimMount == "" {
		t.Errorf("job %s: mounts claim %q at %q: want one of %v mounted", j.Name, claim, claimMount, m.claims)
	}
	return claimMount
}

// TestShardsJob: an Indexed Job of N pods at once whose --shard is its completion index
// of N, starting at an RFC 3339 instant, running the ConfigMap's scenario, writing a
// folder per shard on the claim.
func TestShardsJob(t *testing.T) {
	m := readManifests(t)
	j := m.jobs["dmbench-shards"]
	if j == nil {
		t.Fatal("no job dmbench-shards")
	}
	c := container(t, j)
	mount := checkCommon(t, m, j)
	if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completion mode %v, want Indexed", j.Spec.CompletionMode)
	}
	if c.Args[0] != "run" {
		t.Fatalf("args %q: want run", c.Args)
	}
	shard := flag(c.Args, "--shard")
	index, n, ok := strings.Cut(shard, "/")
	count, err := strconv.Atoi(n)
	if !ok || index != "$(JOB_COMPLETION_INDEX)" || err != nil || count < 1 {
		t.Fatalf("--shard %q: want $(JOB_COMPLETION_INDEX)/N", shard)
	}
	if j.Spec.Completions == nil || j.Spec.Parallelism == nil {
		t.Fatal("completions and parallelism must be set: an Indexed Job needs completions, and every shard runs at once")
	}
	if c, p := int(*j.Spec.Completions), int(*j.Spec.Parallelism); c != count || p != count {
		t.Errorf("completions %d, parallelism %d: want both %d, the N of --shard (every shard at once)", c, p, count)
	}
	if v, _ := env(c, "JOB_COMPLETION_INDEX"); v != "fieldRef:metadata.annotations['batch.kubernetes.io/job-completion-index']" {
		t.Errorf("JOB_COMPLETION_INDEX is %q: want the completion index annotation", v)
	}
	start := expand(c, flag(c.Args, "--start-at"), 0)
	if _, err := time.Parse(time.RFC3339, start); err != nil {
		t.Errorf("--start-at %q: %v", start, err)
	}
	if flag(c.Args, "--target") == "" {
		t.Error("no --target: a sharded run loads one external server")
	}
	out := flag(c.Args, "-o")
	if !strings.Contains(out, "$(JOB_COMPLETION_INDEX)") || !strings.HasPrefix(out, mount+"/") {
		t.Errorf("-o %q: want a folder per shard on the results volume (%s)", out, mount)
	}

	// The scenario is the ConfigMap's, mounted where run reads it, and valid.
	var scenarioMount, configMap string
	for _, v := range j.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			configMap = v.ConfigMap.Name
			for _, vm := range c.VolumeMounts {
				if vm.Name == v.Name {
					scenarioMount = vm.MountPath
				}
			}
		}
	}
	cm := m.configMaps[configMap]
	if cm == nil {
		t.Fatalf("the scenario volume names ConfigMap %q, which is not here", configMap)
	}
	file := c.Args[1]
	key, ok := strings.CutPrefix(file, scenarioMount+"/")
	text, has := cm.Data[key]
	if !ok || !has {
		t.Fatalf("run reads %s: want a key of ConfigMap %s mounted at %s (keys %v)", file, configMap, scenarioMount, cm.Data)
	}
	for _, short := range []bool{false, true} {
		sc, err := scenarios.Parse(key, []byte(text), scenarios.LoadOptions{Short: short})
		if err != nil {
			t.Fatalf("the scenario (short %v): %v", short, err)
		}
		for _, s := range sc.Stages {
			if s.Clients%count != 0 {
				t.Errorf("scenario (short %v) stage %s: %d clients do not split evenly over %d shards", short, s.Name, s.Clients, count)
			}
		}
	}
}

// TestMergeJob: the merge runs over exactly the N folders the shards write, in order,
// into a folder of its own on the same claim, with the same image and run id.
func TestMergeJob(t *testing.T) {
	m := readManifests(t)
	shards, mj := m.jobs["dmbench-shards"], m.jobs["dmbench-merge"]
	if shards == nil || mj == nil {
		t.Fatal("want jobs dmbench-shards and dmbench-merge")
	}
	sc, c := container(t, shards), container(t, mj)
	sMount, mMount := checkCommon(t, m, shards), checkCommon(t, m, mj)
	if sMount != mMount || shards.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != mj.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName {
		t.Errorf("the merge mounts its claim at %s, the shards at %s: want the same claim at the same path", mMount, sMount)
	}
	if c.Image != sc.Image {
		t.Errorf("the merge runs %s, the shards %s", c.Image, sc.Image)
	}
	if a, b := expand(c, "$(RUN_ID)", 0), expand(sc, "$(RUN_ID)", 0); a != b || a == "" {
		t.Errorf("RUN_ID is %q in the merge, %q in the shards", a, b)
	}
	if mj.Spec.CompletionMode != nil && *mj.Spec.CompletionMode == batchv1.IndexedCompletion {
		t.Error("the merge is one pod, not an Indexed Job")
	}
	if len(c.Args) == 0 || c.Args[0] != "merge" {
		t.Fatalf("args %q: want merge", c.Args)
	}
	count := int(*shards.Spec.Completions)
	var want []string
	for i := range count {
		want = append(want, expand(sc, flag(sc.Args, "-o"), i))
	}
	var got []string
	for i := 1; i < len(c.Args); i++ {
		if strings.HasPrefix(c.Args[i], "-") {
			i++ // a flag's value
			continue
		}
		got = append(got, expand(c, c.Args[i], 0))
	}
	if !slices.Equal(got, want) {
		t.Errorf("the merge reads %q, the shards write %q", got, want)
	}
	out := expand(c, flag(c.Args, "-o"), 0)
	if out == "" || slices.Contains(want, out) || !strings.HasPrefix(out, mMount+"/") {
		t.Errorf("merge -o %q: want a folder of its own on the results volume", out)
	}
}

// TestResultsClaim: every pod writes at once from its own node: ReadWriteMany.
func TestResultsClaim(t *testing.T) {
	m := readManifests(t)
	pvc := m.claims["dmbench-results"]
	if pvc == nil {
		t.Fatal("no claim dmbench-results")
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("access modes %v: want ReadWriteMany", pvc.Spec.AccessModes)
	}
	if q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || q.IsZero() {
		t.Errorf("storage request %v: want one", pvc.Spec.Resources.Requests)
	}
}

// TestReadmeCommands: the guide names the files and objects that are here.
func TestReadmeCommands(t *testing.T) {
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := readManifests(t)
	for key, file := range m.files {
		name := key[strings.Index(key, "/")+1:]
		if !bytes.Contains(data, []byte(file)) || !bytes.Contains(data, []byte(name)) {
			t.Errorf("README.md does not name %s (%s)", file, name)
		}
	}
}
