package pseudo_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/vigil-audit/vigil/collector/pseudo"
)

// Pinned vectors, computed independently of this package with Python's
// hmac module (key = bytes 0x00 … 0x1f):
//
//	python3 -c "import hmac,hashlib,base64,sys;k=bytes(range(32));print(sys.argv[3]+'_'+base64.b32encode(hmac.new(k,sys.argv[1].encode()+b'\x00'+sys.argv[2].encode(),hashlib.sha256).digest()[:20]).decode().lower())" person pt-8812734 p
//
// with the namespace name, the value and the prefix as arguments.
var vectors = []struct {
	ns    pseudo.Namespace
	value string
	want  string
}{
	{pseudo.Person, "pt-8812734", "p_h5pk4fnhm2uxoeponl4ibpmdamxooosj"},
	{pseudo.Person, "13800138000", "p_raotihymaxbqr3ngbfytlvqcdlurqhz6"},
	{pseudo.Person, "alice@example.com", "p_3lpp5j65vlz6rzhw4i5zu4hr6eafqiex"},
	{pseudo.Person, "11010119900307451X", "p_aovjnijapqf6dysnw6c4wgsaxlxhtvwh"},
	{pseudo.Device, "dev-a81f22", "d_nnyw7z3q5sac625zwpj4fzknyvu7uk2t"},
	{pseudo.Device, "aa:bb:cc:dd:ee:ff", "d_jpjp7dqu3dg3njcdvdnrlhrowvclzglq"},
	{pseudo.Network, "aa:bb:cc:dd:ee:ff", "n_4bflvs7u7jmgv554kqbyij3filikvqlr"},
}

func TestTokenPinnedVectors(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	for _, v := range vectors {
		if got := p.Token(v.ns, v.value); got != v.want {
			t.Errorf("Token(%s, %q) = %q, want %q", v.ns, v.value, got, v.want)
		}
	}
	// Another instance with the same key (a restart, another host) agrees.
	q := newP(t, pseudo.Defaults())
	for _, v := range vectors {
		if got := q.Token(v.ns, v.value); got != v.want {
			t.Errorf("second instance: Token(%s, %q) = %q, want %q", v.ns, v.value, got, v.want)
		}
	}
}

func TestTokenShape(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	for _, ns := range pseudo.Namespaces() {
		tok := p.Token(ns, "some value")
		if len(tok) != pseudo.TokenLen || !strings.HasPrefix(tok, ns.Prefix()) {
			t.Errorf("Token(%s) = %q: want %d characters starting %q", ns, tok, pseudo.TokenLen, ns.Prefix())
		}
		got, ok := pseudo.IsToken(tok)
		if !ok || got != ns {
			t.Errorf("IsToken(%q) = %v, %v; want %v, true", tok, got, ok, ns)
		}
	}
}

func TestTokenOtherKey(t *testing.T) {
	other := make([]byte, 32)
	q, err := pseudo.New(other, pseudo.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Token(pseudo.Person, "pt-8812734"); got == vectors[0].want {
		t.Error("another key gave the same token")
	}
}

func TestTokenNamespacesSeparate(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	seen := map[string]pseudo.Namespace{}
	for _, ns := range pseudo.Namespaces() {
		tok := p.Token(ns, "12345")
		body := tok[2:]
		if prev, dup := seen[body]; dup {
			t.Errorf("namespaces %s and %s give the same HMAC for one value", prev, ns)
		}
		seen[body] = ns
	}
}

func TestTokenIdempotent(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	for _, v := range vectors {
		once := p.Token(v.ns, v.value)
		if twice := p.Token(v.ns, once); twice != once {
			t.Errorf("Token(%s, Token(%q)) = %q, want %q unchanged", v.ns, v.value, twice, once)
		}
	}
	// A token of another namespace is a value like any other.
	d := p.Token(pseudo.Device, "dev-1")
	if got := p.Token(pseudo.Person, d); got == d || !strings.HasPrefix(got, "p_") {
		t.Errorf("Token(person, device token) = %q, want a person token", got)
	}
}

func TestTokenNormalisation(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	tests := []struct {
		ns          pseudo.Namespace
		same, canon string
	}{
		{pseudo.Device, "AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"},
		{pseudo.Device, "aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff"},
		{pseudo.Network, "AA-bb-CC-dd-EE-ff", "aa:bb:cc:dd:ee:ff"},
		{pseudo.Person, "+8613800138000", "13800138000"},
		{pseudo.Person, "+86 13800138000", "13800138000"},
		{pseudo.Person, "008613800138000", "13800138000"},
		{pseudo.Person, "8613800138000", "13800138000"},
		{pseudo.Person, "138-0013-8000", "13800138000"},
		{pseudo.Person, "138 0013 8000", "13800138000"},
		{pseudo.Person, "+86 138 0013 8000", "13800138000"},
		{pseudo.Person, "11010119900307451x", "11010119900307451X"},
		{pseudo.Person, "Alice@Example.COM", "alice@example.com"},
	}
	for _, tt := range tests {
		if got, want := p.Token(tt.ns, tt.same), p.Token(tt.ns, tt.canon); got != want {
			t.Errorf("Token(%s, %q) = %q, want %q as for %q", tt.ns, tt.same, got, want, tt.canon)
		}
	}
	// Near misses are not normalised.
	distinct := []struct{ a, b string }{
		{"138-0013 8000", "13800138000"},           // mixed separators
		{"12800138000", "+8612800138000"},          // not a mobile number
		{"AA:BB:CC:DD:EE", "aa:bb:cc:dd:ee"},       // not a MAC
		{"aa:bb-cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff"}, // mixed separators
		{"PT-1", "pt-1"},                           // ordinary ids keep their case
	}
	for _, d := range distinct {
		if p.Token(pseudo.Person, d.a) == p.Token(pseudo.Person, d.b) {
			t.Errorf("%q and %q got one token", d.a, d.b)
		}
	}
}

func TestTokenEmpty(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	if got := p.Token(pseudo.Person, ""); got != "" {
		t.Errorf("Token of empty = %q, want empty", got)
	}
}

func TestTokenInvalidNamespacePanics(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	p.Token(pseudo.Namespace(0), "x")
}

func TestIsToken(t *testing.T) {
	tests := []struct {
		s  string
		ok bool
		ns pseudo.Namespace
	}{
		{"p_h5pk4fnhm2uxoeponl4ibpmdamxooosj", true, pseudo.Person},
		{"d_nnyw7z3q5sac625zwpj4fzknyvu7uk2t", true, pseudo.Device},
		{"n_4bflvs7u7jmgv554kqbyij3filikvqlr", true, pseudo.Network},
		{"x_h5pk4fnhm2uxoeponl4ibpmdamxooosj", false, 0},  // unknown prefix
		{"p_h5pk4fnhm2uxoeponl4ibpmdamxooos", false, 0},   // short
		{"p_h5pk4fnhm2uxoeponl4ibpmdamxooosjj", false, 0}, // long
		{"p_H5PK4FNHM2UXOEPONL4IBPMDAMXOOOSJ", false, 0},  // upper case
		{"p_h5pk4fnhm2uxoeponl4ibpmdamxooos1", false, 0},  // 1 is not base32
		{"p-h5pk4fnhm2uxoeponl4ibpmdamxooosj", false, 0},
		{"", false, 0},
	}
	for _, tt := range tests {
		ns, ok := pseudo.IsToken(tt.s)
		if ok != tt.ok || ns != tt.ns {
			t.Errorf("IsToken(%q) = %v, %v; want %v, %v", tt.s, ns, ok, tt.ns, tt.ok)
		}
	}
}

func TestNamespaceNames(t *testing.T) {
	for ns, want := range map[pseudo.Namespace][2]string{
		pseudo.Person: {"person", "p_"}, pseudo.Device: {"device", "d_"}, pseudo.Network: {"network", "n_"},
		pseudo.Namespace(9): {"invalid", ""},
	} {
		if ns.String() != want[0] || ns.Prefix() != want[1] {
			t.Errorf("%d: %q %q, want %q %q", ns, ns.String(), ns.Prefix(), want[0], want[1])
		}
	}
}

func TestTokenConcurrent(t *testing.T) {
	p := newP(t, pseudo.Defaults())
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for i := 0; i < 500; i++ {
				v := vectors[(g+i)%len(vectors)]
				if got := p.Token(v.ns, v.value); got != v.want {
					t.Errorf("concurrent Token(%q) = %q, want %q", v.value, got, v.want)
					return
				}
			}
		})
	}
	wg.Wait()
}
