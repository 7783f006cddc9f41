package simulate

import (
	"fmt"
	"math"
	"strconv"
	"time"
	_ "time/tzdata" // the orgs' time zones, also on hosts without a zoneinfo database

	"github.com/vigil-audit/vigil/internal/event"
)

// Volume split and population ratios.
const (
	accessShare      = 0.85 // of Rate; the rest are device events
	serviceShare     = 0.08 // of access events, by service accounts
	patientsPerStaff = 10
	minStaff         = 60
	minPatients      = 1000
	minUsers         = 100
	deviceEventsUser = 4    // device events per app user per day
	maxAppShare      = 0.65 // of patients with the app
	departingShare   = 0.02 // of staff on notice
	minDeparting     = 4    // on notice in each org, at least
	vipShare         = 0.004
	employeeShare    = 0.01
	minorShareOther  = 0.03 // minors outside pediatrics
	minorSharePeds   = 0.9
	travelEvery      = 10 // an eligible actor travels on one in this many eligible days
	maxPanel         = 45 // patients a doctor cares for
)

// Patient flags.
const (
	flagMinor uint8 = 1 << iota
	flagVIP
	flagEmployee
)

type patient struct {
	id      string
	dept    uint8
	flags   uint8
	doctor  int32 // index of the panel doctor in org.actors, or -1
	appUser int32 // index in org.users, or -1
}

func (p *patient) minor() bool { return p.flags&flagMinor != 0 }
func (p *patient) vip() bool   { return p.flags&flagVIP != 0 }

func (p *patient) subject(t event.SubjectType) event.Subject {
	return event.Subject{ID: p.id, Type: t, Minor: p.flags&flagMinor != 0, VIP: p.flags&flagVIP != 0,
		Employee: p.flags&flagEmployee != 0}
}

type actor struct {
	id        string
	role      roleID
	service   int8 // service index, or -1 for a person
	shift     shiftID
	dept      uint8
	offMask   uint8 // weekdays off, bit (0 = Sunday)
	departing bool
	canTravel bool
	ident     event.Actor
	attrs     map[string]string // shared by every event of the actor
	clients   [2]event.Client   // usual workstations
	home      event.Client      // from home (on call, off hours)
	panel     []int32           // doctors: their patients

	sessionDay int64
	session    string
	roundsDay  int64 // local date of the last ward round, 0 none
}

type appUser struct {
	patient int32
	devices [2]int32 // second is -1 when the user has one device
}

// device is an app user's phone, kept small: there are hundreds of
// thousands.
type device struct {
	id     string
	ip     string
	bssid  string
	loc    event.Location
	model  uint8 // index in allModels
	app    uint8 // index in appVersions
	carr   uint8 // index in the org's carriers
	rooted bool
	shared bool // used by more than one account of a family
}

// org is one tenant: its people, devices and, during a run, the local time
// of the current slice.
type org struct {
	idx  int
	spec orgSpec
	id   string
	loc  *time.Location
	geo  event.Geo
	lat  float64
	lon  float64

	actors    []actor // people first, then services
	nHumans   int
	services  [nServices]int32
	byRole    [nRoles][]int32
	patients  []patient
	deptPats  [nClinical][]int32
	vips      []int32
	users     []appUser
	devices   []device
	departing []int32

	// Volume.
	thin         float64 // fraction of each person's natural rate kept
	svcPerMinute [nSteadyServices]float64
	devPerDay    float64

	// Current slice, local time.
	now      orgNow
	tables   [nRoles][nShifts]poissonTable
	tableFor int // half hour the tables were built for, -1 none

}

type orgNow struct {
	slot      int   // local half hour 0-47
	hour      int   // local hour
	day       int64 // local date, days since 1970-01-01
	shiftDay  [nShifts]int64
	intensity [nShifts]float64
}

// world is the whole population.
type world struct {
	seed uint64
	orgs []*org
}

// sizing is the population size derived from the rate.
type sizing struct {
	staff, patients, users int
	thin                   float64
	svcPerDay, devPerDay   float64
}

// naturalPerStaffDay is the mean number of events a person generates in a
// day before thinning.
func naturalPerStaffDay() float64 {
	var hours [nShifts]float64
	for s := range nShifts {
		for _, v := range shiftIntensity[s] {
			hours[s] += v / 2
		}
	}
	total := 0.0
	for _, r := range roles {
		per := 0.0
		for s := range nShifts {
			per += r.shifts[s] * hours[s] * float64(workdays[s]) / 7
		}
		total += r.share * r.perHour * per
	}
	return total
}

func planSize(rate float64, orgs int) sizing {
	perDay := rate * 86400 / float64(orgs)
	access := perDay * accessShare
	human := access * (1 - serviceShare)
	nat := naturalPerStaffDay()
	staff := max(minStaff, int(math.Ceil(human/nat)))
	dev := perDay - access
	patients := max(minPatients, staff*patientsPerStaff)
	users := min(max(minUsers, int(dev/deviceEventsUser)), int(float64(patients)*maxAppShare))
	return sizing{
		staff: staff, patients: patients, users: users,
		thin:      min(1, human/(float64(staff)*nat)),
		svcPerDay: access * serviceShare,
		devPerDay: dev,
	}
}

func newWorld(seed uint64, cfg Config) (*world, error) {
	w := &world{seed: seed}
	r := newRNG(seed, streamWorld)
	sz := planSize(cfg.Rate, cfg.Orgs)
	for i := range cfg.Orgs {
		spec := orgCatalogue[i%len(orgCatalogue)]
		if n := i / len(orgCatalogue); n > 0 {
			spec.id += "-" + strconv.Itoa(n+1)
			spec.code += strconv.Itoa(n + 1)
		}
		loc, err := time.LoadLocation(spec.tz)
		if err != nil {
			return nil, fmt.Errorf("time zone of %s: %w", spec.id, err)
		}
		o := &org{idx: i, spec: spec, id: spec.id, loc: loc, lat: spec.home.lat, lon: spec.home.lon, tableFor: -1}
		o.geo = placeGeo(spec.home)
		o.build(r, sz)
		w.orgs = append(w.orgs, o)
	}
	return w, nil
}

// placeGeo returns the geo of a place; its coordinates are shared by every
// event that uses it (sinks must not modify events).
func placeGeo(p place) event.Geo {
	lat, lon := p.lat, p.lon
	return event.Geo{Country: p.country, Region: p.region, City: p.city, Lat: &lat, Lon: &lon}
}

func (o *org) build(r *rng, sz sizing) {
	o.thin = sz.thin
	o.devPerDay = sz.devPerDay
	var wsum float64
	for _, s := range services[:nSteadyServices] {
		wsum += s.weight
	}
	for i, s := range services[:nSteadyServices] {
		o.svcPerMinute[i] = sz.svcPerDay * s.weight / wsum / 1440
	}
	o.buildStaff(r, sz.staff)
	o.buildPatients(r, sz.patients)
	o.buildPanels(r)
	o.buildUsers(r, sz.users)
}

func (o *org) buildStaff(r *rng, n int) {
	roleW := make([]float64, nRoles)
	for i, rs := range roles {
		roleW[i] = rs.share
	}
	roleWeights := newWeights(roleW...)
	// Every role at least twice, so that each kind of actor exists in
	// small orgs too; then the rest by share.
	var roleOf []roleID
	for rid := range nRoles {
		roleOf = append(roleOf, rid, rid)
	}
	for len(roleOf) < n {
		roleOf = append(roleOf, roleID(r.pick(roleWeights)))
	}
	seq := [nRoles]int{}
	wsPerDept := [nDepts]int{}
	o.actors = make([]actor, 0, len(roleOf)+nServices)
	for _, rid := range roleOf {
		rs := &roles[rid]
		seq[rid]++
		a := actor{
			id:      fmt.Sprintf("%s-%c%05d", o.spec.code, rs.code, seq[rid]),
			role:    rid,
			service: -1,
			shift:   shiftID(r.pick(newWeights(rs.shifts[:]...))),
		}
		if rs.dept >= 0 {
			a.dept = uint8(rs.dept)
		} else {
			a.dept = uint8(r.pick(clinicalWeights))
		}
		a.offMask = offDays(r, a.shift)
		a.canTravel = a.shift == shiftDay && (rid == roleDoctor || rid == roleITAdmin || rid == roleRecordsAdmin) && r.chance(0.3)
		a.ident = event.Actor{ID: a.id, Type: rs.typ, Role: rs.name, Department: deptNames[a.dept]}
		// Usual clients: workstations of the department (shared by about
		// three people), sometimes a ward tablet.
		for k := range a.clients {
			ws := r.intn(max(2, n/nDepts/3)) + 1
			wsPerDept[a.dept] = max(wsPerDept[a.dept], ws)
			c := event.Client{
				IP:        fmt.Sprintf("10.%d.%d.%d", o.idx, 16+int(a.dept), ws%250+2),
				UserAgent: uaWorkstation,
				DeviceID:  fmt.Sprintf("WS-%s-%s-%04d", o.spec.code, deptCode(a.dept), ws),
				Geo:       o.geo,
			}
			if k == 1 && (rid == roleDoctor || rid == roleNurse) && r.chance(0.4) {
				c.UserAgent = uaTablet
				c.DeviceID = fmt.Sprintf("TAB-%s-%s-%04d", o.spec.code, deptCode(a.dept), ws)
				c.IP = fmt.Sprintf("10.%d.%d.%d", o.idx, 64+int(a.dept), ws%250+2)
			}
			a.clients[k] = c
		}
		a.home = event.Client{
			IP:        fmt.Sprintf("100.%d.%d.%d", 64+o.idx%64, r.intn(256), r.intn(254)+1),
			UserAgent: uaBrowser,
			DeviceID:  fmt.Sprintf("PC-%016x", r.u64()),
			Geo:       o.geo,
		}
		if r.chance(0.3) {
			a.home.UserAgent = uaMacBrowser
		}
		o.actors = append(o.actors, a)
	}
	o.nHumans = len(o.actors)
	// Staff on notice: at least two per org, spread over roles that touch
	// patients' data.
	for i := range o.actors {
		a := &o.actors[i]
		if a.role <= roleLab && r.chance(departingShare) {
			a.departing = true
			o.departing = append(o.departing, int32(i))
		}
	}
	for tries := 0; len(o.departing) < minDeparting && tries < 10*len(o.actors); tries++ {
		i := r.intn(len(o.actors))
		if a := &o.actors[i]; a.role <= roleLab && !a.departing {
			a.departing = true
			o.departing = append(o.departing, int32(i))
		}
	}
	for i := range o.actors {
		a := &o.actors[i]
		status := "active"
		if a.departing {
			status = "notice_period"
		}
		a.attrs = map[string]string{"shift": shiftNames[a.shift], "employment_status": status}
		o.byRole[a.role] = append(o.byRole[a.role], int32(i))
	}
	for s := range nServices {
		spec := &services[s]
		a := actor{
			id:      spec.id,
			service: int8(s),
			dept:    uint8(spec.dept),
			ident:   event.Actor{ID: spec.id, Type: event.ActorService, Role: "integration", Department: deptNames[spec.dept]},
			attrs:   map[string]string{"account_kind": "service"},
		}
		a.clients[0] = event.Client{
			IP:        fmt.Sprintf("10.%d.250.%d", o.idx, 10+s),
			UserAgent: spec.ua,
			DeviceID:  fmt.Sprintf("SRV-%s-%02d", o.spec.code, s+1),
			Geo:       o.geo,
		}
		a.clients[1] = a.clients[0]
		o.services[s] = int32(len(o.actors))
		o.actors = append(o.actors, a)
	}
}

func deptCode(d uint8) string {
	return [nDepts]string{"ER", "CAR", "ONC", "PED", "MED", "SUR", "OBS", "PSY", "FIN", "REG", "PHA", "LAB", "IT", "MRD", "PSV"}[d]
}

// offDays picks the weekdays an actor does not work.
func offDays(r *rng, s shiftID) uint8 {
	n := 7 - workdays[s]
	start := r.intn(7)
	if s == shiftDay && r.chance(0.65) {
		start = 6 // Saturday and Sunday
	}
	var m uint8
	for i := range n {
		m |= 1 << ((start + i) % 7)
	}
	return m
}

func (o *org) buildPatients(r *rng, n int) {
	mrnPrefix := "MRN-" + o.spec.code + "-"
	o.patients = make([]patient, n)
	for i := range o.patients {
		p := &o.patients[i]
		p.id = paddedID(mrnPrefix, 1000+i*7+r.intn(7), 7)
		p.dept = uint8(r.pick(clinicalWeights))
		p.doctor, p.appUser = -1, -1
		minorP := minorShareOther
		if p.dept == deptPediatrics {
			minorP = minorSharePeds
		}
		if r.chance(minorP) {
			p.flags |= flagMinor
		}
		if r.chance(employeeShare) && p.flags&flagMinor == 0 {
			p.flags |= flagEmployee
		}
		o.deptPats[p.dept] = append(o.deptPats[p.dept], int32(i))
	}
}

// buildPanels deals each clinical department's patients to its doctors,
// and flags VIPs among patients that have a panel doctor (a VIP is always
// under someone's care, so treating staff read VIP records every day).
func (o *org) buildPanels(r *rng) {
	var docs [nClinical][]int32
	for _, ai := range o.byRole[roleDoctor] {
		d := o.actors[ai].dept
		docs[d] = append(docs[d], ai)
	}
	for d := range nClinical {
		if len(docs[d]) == 0 {
			continue
		}
		// Each doctor cares for at most maxPanel patients; the others of
		// the department (past patients) have no panel doctor.
		pats := o.deptPats[d]
		start := r.intn(len(docs[d]))
		for k, pi := range pats[:min(len(pats), len(docs[d])*maxPanel)] {
			ai := docs[d][(start+k)%len(docs[d])]
			o.patients[pi].doctor = ai
			o.actors[ai].panel = append(o.actors[ai].panel, pi)
		}
	}
	want := max(4, int(float64(len(o.patients))*vipShare))
	for tries := 0; len(o.vips) < want && tries < 100*want; tries++ {
		pi := int32(r.intn(len(o.patients)))
		p := &o.patients[pi]
		if p.doctor < 0 || p.vip() || p.dept == deptEmergency {
			continue
		}
		p.flags |= flagVIP
		o.vips = append(o.vips, pi)
	}
}

func (o *org) buildUsers(r *rng, n int) {
	n = min(n, len(o.patients))
	// Patients with the app, chosen by a stride so the choice is even.
	stride := float64(len(o.patients)) / float64(n)
	o.users = make([]appUser, 0, n)
	o.devices = make([]device, 0, n+n/8)
	for k := range n {
		pi := int32(math.Min(float64(len(o.patients)-1), float64(k)*stride+r.float()*stride))
		if o.patients[pi].appUser >= 0 {
			continue
		}
		o.patients[pi].appUser = int32(len(o.users))
		u := appUser{patient: pi, devices: [2]int32{-1, -1}}
		// A family device shared with the previous user (at most three
		// accounts on one device), or the user's own phone.
		if k > 0 && r.chance(0.08) {
			prev := &o.users[len(o.users)-1]
			dv := prev.devices[0]
			if sharers := o.countSharers(dv); sharers < 3 {
				u.devices[0] = dv
				o.devices[dv].shared = true
			}
		}
		if u.devices[0] < 0 {
			u.devices[0] = o.newDevice(r, false)
		}
		if r.chance(0.1) {
			u.devices[1] = o.newDevice(r, true)
		}
		o.users = append(o.users, u)
	}
}

func (o *org) countSharers(dv int32) int {
	n := 0
	for i := len(o.users) - 1; i >= 0 && i >= len(o.users)-4; i-- {
		if o.users[i].devices[0] == dv {
			n++
		}
	}
	return n
}

// newDevice adds a phone (or a tablet) near the org's city.
func (o *org) newDevice(r *rng, tablet bool) int32 {
	d := o.makeDevice(r, tablet)
	o.devices = append(o.devices, d)
	return int32(len(o.devices) - 1)
}

func (o *org) makeDevice(r *rng, tablet bool) device {
	mi := r.pick(deviceModelWeights)
	if tablet {
		mi = len(deviceModels) - 1
	}
	m := &allModels[mi]
	d := device{
		model: uint8(mi),
		app:   uint8(r.intn(len(appVersions))),
		carr:  uint8(r.intn(len(o.spec.carriers))),
		loc: event.Location{Lat: round4(o.lat + (r.float()-0.5)*0.3), Lon: round4(o.lon + (r.float()-0.5)*0.3),
			AccuracyM: float64(10 + r.intn(90))},
		rooted: m.os == "android" && r.chance(0.015),
	}
	var b []byte
	if m.os == "ios" || m.os == "ipados" {
		d.id = uuidString(r.u64(), r.u64())
	} else {
		d.id = hex16(r.u64())
	}
	if o.idx < 4 && r.chance(0.7) {
		b = append(b, "100."...)
		b = strconv.AppendInt(b, int64(64+o.idx*16+r.intn(16)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.intn(256)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.intn(254)+1), 10)
	} else {
		b = append(b, "2001:db8:"...)
		b = strconv.AppendUint(b, uint64(0x100+o.idx), 16)
		b = append(b, ':')
		b = strconv.AppendUint(b, uint64(r.intn(0x10000)), 16)
		b = append(b, "::"...)
		b = strconv.AppendUint(b, uint64(r.intn(0xfffe)+1), 16)
	}
	d.ip = string(b)
	if r.chance(0.6) {
		d.bssid = macString(r.u64() &^ 1) // a unicast address
	}
	return d
}

// info describes the device as events carry it.
func (d *device) info() event.Device {
	m := &allModels[d.model]
	return event.Device{Model: m.model, OS: m.os, OSVersion: m.osVersion, AppVersion: appVersions[d.app]}
}

const hexDigits = "0123456789abcdef"

// hex16 is v as 16 lower-case hex digits (an Android id).
func hex16(v uint64) string {
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[v&15]
		v >>= 4
	}
	return string(b[:])
}

// uuidString is a UUID in upper case (an iOS identifierForVendor).
func uuidString(hi, lo uint64) string {
	var b [36]byte
	j := 0
	for i := range 32 {
		if i == 8 || i == 12 || i == 16 || i == 20 {
			b[j] = '-'
			j++
		}
		var nib uint64
		if i < 16 {
			nib = hi >> (60 - 4*i) & 15
		} else {
			nib = lo >> (60 - 4*(i-16)) & 15
		}
		b[j] = "0123456789ABCDEF"[nib]
		j++
	}
	return string(b[:])
}

// macString is the low 48 bits of v as a MAC address.
func macString(v uint64) string {
	var b [17]byte
	for i := range 6 {
		x := byte(v >> (8 * i))
		b[i*3], b[i*3+1] = hexDigits[x>>4], hexDigits[x&15]
		if i < 5 {
			b[i*3+2] = ':'
		}
	}
	return string(b[:])
}

// paddedID is prefix followed by n in at least width decimal digits.
func paddedID(prefix string, n, width int) string {
	b := make([]byte, 0, len(prefix)+width+2)
	b = append(b, prefix...)
	s := strconv.Itoa(n)
	for range width - len(s) {
		b = append(b, '0')
	}
	return string(append(b, s...))
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

// setNow updates the org's local time for a slice starting at t.
func (o *org) setNow(t time.Time) {
	lt := t.In(o.loc)
	_, off := lt.Zone()
	n := &o.now
	n.hour = lt.Hour()
	n.slot = n.hour*2 + lt.Minute()/30
	n.day = floorDiv(t.Unix()+int64(off), 86400)
	for s := range nShifts {
		n.intensity[s] = shiftIntensity[s][n.slot]
		n.shiftDay[s] = n.day
	}
	if n.slot < nightShiftEndSlot {
		n.shiftDay[shiftNight] = n.day - 1
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// localDay returns the local date (days since 1970-01-01) of t at the org.
func (o *org) localDay(t time.Time) int64 {
	_, off := t.In(o.loc).Zone()
	return floorDiv(t.Unix()+int64(off), 86400)
}

// localHour returns the local hour of t at the org.
func (o *org) localHour(t time.Time) int { return t.In(o.loc).Hour() }

// weekday of a local date (0 = Sunday); 1970-01-01 was a Thursday.
func weekday(day int64) int { return int(((day+4)%7 + 7) % 7) }

// Day status of a person.
type dayStatus uint8

const (
	dayWork dayStatus = iota
	dayOff
	dayAbroad
)

// status says whether actor ai works, is off or works from abroad on the
// shift that started on local date day. A traveller is abroad only after
// a day off, and takes the day after off too: between their last event at
// home and their first abroad, and back, lie more than 24 hours.
func (w *world) status(o *org, ai int32, day int64) dayStatus {
	a := &o.actors[ai]
	if a.offMask&(1<<weekday(day)) != 0 {
		return dayOff
	}
	if !a.canTravel {
		return dayWork
	}
	if w.abroad(o, ai, day) {
		return dayAbroad
	}
	if w.abroad(o, ai, day-1) {
		return dayOff
	}
	return dayWork
}

func (w *world) abroad(o *org, ai int32, day int64) bool {
	a := &o.actors[ai]
	if a.offMask&(1<<weekday(day)) != 0 || a.offMask&(1<<weekday(day-1)) == 0 {
		return false
	}
	return mix64(w.seed^uint64(o.idx)<<56^uint64(ai)<<24^uint64(day))%travelEvery == 0
}

// travelPlace is where a travelling actor is on a day.
func (w *world) travelPlace(o *org, ai int32, day int64) place {
	h := mix64(w.seed ^ uint64(ai)<<20 ^ uint64(day) ^ 0x7a)
	for i := range len(travelPlaces) {
		p := travelPlaces[(int(h%uint64(len(travelPlaces)))+i)%len(travelPlaces)]
		if p.country != o.spec.home.country {
			return p
		}
	}
	return travelPlaces[0]
}

// onShift reports whether actor ai is working at t, and the shift's
// intensity then.
func (w *world) onShift(o *org, ai int32, t time.Time) (dayStatus, float64) {
	a := &o.actors[ai]
	lt := t.In(o.loc)
	slot := lt.Hour()*2 + lt.Minute()/30
	v := shiftIntensity[a.shift][slot]
	if v == 0 {
		return dayOff, 0
	}
	day := o.localDay(t)
	if a.shift == shiftNight && slot < nightShiftEndSlot {
		day--
	}
	return w.status(o, ai, day), v
}

// sessionID returns the actor's session id for a local date.
func (a *actor) sessionID(seed uint64, day int64) string {
	if a.session == "" || a.sessionDay != day {
		a.sessionDay = day
		a.session = "ses-" + strconv.FormatUint(mix64(seed^uint64(day)<<32^hashString(a.id))>>16, 36)
	}
	return a.session
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
