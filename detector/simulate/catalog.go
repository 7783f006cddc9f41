package simulate

import "github.com/vigil-audit/vigil/internal/event"

// The fixed catalogues the population is drawn from: places, departments,
// roles, shifts, devices. Changing any of them changes every run's output.

// place is a city with coordinates.
type place struct {
	country, region, city string
	lat, lon              float64
}

// orgSpec is a tenant of the catalogue.
type orgSpec struct {
	id, code string // org id and the short code in staff and patient ids
	tz       string // IANA time zone
	home     place
	carriers []string
	// far is a city of the same country far enough from home that
	// reaching it within an hour is impossible; empty when the country
	// has none worth using.
	far []place
}

// orgCatalogue lists the tenants in the order Config.Orgs takes them. The
// first four cover every hour of the day with someone's night (22:00-06:00
// local): Shanghai 14-22 UTC, Berlin 21-05, New York 03-11, Sydney 11-19.
var orgCatalogue = []orgSpec{
	{"hosp-shanghai", "SHA", "Asia/Shanghai", place{"CN", "Shanghai", "Shanghai", 31.2304, 121.4737},
		[]string{"China Mobile", "China Unicom", "China Telecom"},
		[]place{{"CN", "Xinjiang", "Urumqi", 43.8256, 87.6168}, {"CN", "Heilongjiang", "Harbin", 45.8038, 126.5350}}},
	{"hosp-berlin", "BER", "Europe/Berlin", place{"DE", "Berlin", "Berlin", 52.5200, 13.4050},
		[]string{"Telekom.de", "Vodafone.de", "o2-de"}, nil},
	{"hosp-newyork", "NYC", "America/New_York", place{"US", "New York", "New York", 40.7128, -74.0060},
		[]string{"Verizon", "AT&T", "T-Mobile"},
		[]place{{"US", "Washington", "Seattle", 47.6062, -122.3321}, {"US", "California", "Los Angeles", 34.0522, -118.2437}}},
	{"hosp-sydney", "SYD", "Australia/Sydney", place{"AU", "New South Wales", "Sydney", -33.8688, 151.2093},
		[]string{"Telstra", "Optus", "Vodafone AU"},
		[]place{{"AU", "Western Australia", "Perth", -31.9523, 115.8613}}},
	{"hosp-chengdu", "CTU", "Asia/Shanghai", place{"CN", "Sichuan", "Chengdu", 30.5728, 104.0668},
		[]string{"China Mobile", "China Unicom", "China Telecom"},
		[]place{{"CN", "Heilongjiang", "Harbin", 45.8038, 126.5350}}},
	{"hosp-saopaulo", "GRU", "America/Sao_Paulo", place{"BR", "Sao Paulo", "Sao Paulo", -23.5505, -46.6333},
		[]string{"Vivo", "Claro", "TIM"},
		[]place{{"BR", "Amazonas", "Manaus", -3.1190, -60.0217}}},
	{"hosp-london", "LON", "Europe/London", place{"GB", "England", "London", 51.5074, -0.1278},
		[]string{"EE", "Vodafone UK", "O2 - UK"}, nil},
	{"hosp-tokyo", "TYO", "Asia/Tokyo", place{"JP", "Tokyo", "Tokyo", 35.6762, 139.6503},
		[]string{"NTT DOCOMO", "au", "SoftBank"},
		[]place{{"JP", "Okinawa", "Naha", 26.2124, 127.6809}}},
}

// attackerPlaces are where a compromised account is used from.
var attackerPlaces = []place{
	{"RU", "Moscow", "Moscow", 55.7558, 37.6173},
	{"NG", "Lagos", "Lagos", 6.5244, 3.3792},
	{"BR", "Sao Paulo", "Sao Paulo", -23.5505, -46.6333},
	{"SG", "Singapore", "Singapore", 1.3521, 103.8198},
	{"US", "California", "Los Angeles", 34.0522, -118.2437},
	{"RO", "Bucharest", "Bucharest", 44.4268, 26.1025},
	{"ID", "Jakarta", "Jakarta", -6.2088, 106.8456},
	{"IN", "Maharashtra", "Mumbai", 19.0760, 72.8777},
	{"NL", "North Holland", "Amsterdam", 52.3676, 4.9041},
	{"ZA", "Gauteng", "Johannesburg", -26.2041, 28.0473},
}

// travelPlaces are conference cities staff travel to (benign: a day off
// before, a day off after).
var travelPlaces = []place{
	{"SG", "Singapore", "Singapore", 1.3521, 103.8198},
	{"AT", "Vienna", "Vienna", 48.2082, 16.3738},
	{"US", "Illinois", "Chicago", 41.8781, -87.6298},
	{"ES", "Catalonia", "Barcelona", 41.3874, 2.1686},
	{"JP", "Tokyo", "Tokyo", 35.6762, 139.6503},
	{"CA", "Ontario", "Toronto", 43.6532, -79.3832},
}

// Departments. The clinical ones hold patients.
const (
	deptEmergency = iota
	deptCardiology
	deptOncology
	deptPediatrics
	deptInternal
	deptSurgery
	deptObstetrics
	deptPsychiatry
	nClinical
	deptFinance = iota - 1
	deptRegistration
	deptPharmacy
	deptLaboratory
	deptIT
	deptRecords
	deptPatientServices
	nDepts
)

var deptNames = [nDepts]string{"emergency", "cardiology", "oncology", "pediatrics", "internal_medicine",
	"surgery", "obstetrics", "psychiatry", "finance", "registration", "pharmacy", "laboratory", "it",
	"medical_records", "patient_services"}

// clinicalWeights is how patients and clinical staff spread over the
// clinical departments.
var clinicalWeights = newWeights(15, 14, 10, 12, 20, 14, 8, 7)

// Roles of human staff.
type roleID uint8

const (
	roleDoctor roleID = iota
	roleNurse
	roleBilling
	roleRegistration
	rolePharmacist
	roleLab
	roleITAdmin
	roleRecordsAdmin
	roleSupport
	nRoles
)

// Shift classes.
type shiftID uint8

const (
	shiftDay shiftID = iota
	shiftNight
	shiftOnCall
	nShifts
)

var shiftNames = [nShifts]string{"day", "night", "on_call"}

// workdays is how many days a week each shift class works.
var workdays = [nShifts]int{5, 4, 5}

type roleSpec struct {
	name    string // actor.role
	typ     event.ActorType
	share   float64          // fraction of human staff
	perHour float64          // events per hour on shift at full intensity
	shifts  [nShifts]float64 // probability of each shift class
	dept    int              // fixed department, or -1 for a clinical one
	code    byte             // letter in staff ids
}

var roles = [nRoles]roleSpec{
	roleDoctor:       {"physician", event.ActorDoctor, 0.28, 24, [nShifts]float64{0.72, 0.14, 0.14}, -1, 'D'},
	roleNurse:        {"nurse", event.ActorStaff, 0.34, 20, [nShifts]float64{0.62, 0.35, 0.03}, -1, 'N'},
	roleBilling:      {"billing", event.ActorStaff, 0.07, 14, [nShifts]float64{1, 0, 0}, deptFinance, 'B'},
	roleRegistration: {"registration", event.ActorStaff, 0.08, 22, [nShifts]float64{0.75, 0.25, 0}, deptRegistration, 'R'},
	rolePharmacist:   {"pharmacist", event.ActorStaff, 0.05, 26, [nShifts]float64{0.8, 0.2, 0}, deptPharmacy, 'P'},
	roleLab:          {"lab_technician", event.ActorStaff, 0.07, 20, [nShifts]float64{0.7, 0.3, 0}, deptLaboratory, 'L'},
	roleITAdmin:      {"it_admin", event.ActorAdmin, 0.02, 6, [nShifts]float64{0.85, 0, 0.15}, deptIT, 'A'},
	roleRecordsAdmin: {"records_admin", event.ActorAdmin, 0.03, 10, [nShifts]float64{1, 0, 0}, deptRecords, 'M'},
	roleSupport:      {"customer_support", event.ActorStaff, 0.06, 16, [nShifts]float64{0.7, 0.3, 0}, deptPatientServices, 'S'},
}

// Shift intensity by local half hour (0 = 00:00-00:30 … 47 = 23:30-24:00):
// the fraction of a role's hourly rate an actor on that shift works at.
var shiftIntensity = func() [nShifts][48]float64 {
	var t [nShifts][48]float64
	set := func(s shiftID, from, to int, v float64) { // half hours [from, to)
		for i := from; i < to; i++ {
			t[s][i] = v
		}
	}
	// Day shift 07:30-18:30: a slow start, lunch, a slow end.
	set(shiftDay, 15, 18, 0.7)
	set(shiftDay, 18, 24, 1.0)
	set(shiftDay, 24, 27, 0.5)
	set(shiftDay, 27, 34, 1.0)
	set(shiftDay, 34, 37, 0.6)
	// Night shift 19:30-08:00, quietest before dawn.
	set(shiftNight, 39, 46, 0.9)
	set(shiftNight, 46, 48, 0.6)
	set(shiftNight, 0, 4, 0.6)
	set(shiftNight, 4, 10, 0.4)
	set(shiftNight, 10, 16, 0.7)
	// On call: a little, at any hour.
	set(shiftOnCall, 0, 48, 0.12)
	return t
}()

// nightShiftEndSlot: night-shift half hours before it belong to the shift
// that started the evening before.
const nightShiftEndSlot = 16

// appDiurnal is the relative activity of app users by local hour.
var appDiurnal = [24]float64{0.25, 0.15, 0.1, 0.08, 0.08, 0.15, 0.4, 0.8, 1.2, 1.4, 1.3, 1.2,
	1.3, 1.1, 1.0, 1.0, 1.0, 1.1, 1.3, 1.5, 1.6, 1.4, 1.0, 0.5}

// Service accounts, steady all day.
const (
	svcLab = iota
	svcPharmacy
	svcBilling
	svcNotify
	nSteadyServices
	svcReporting = nSteadyServices // scheduled exports only
	nServices    = nSteadyServices + 1
)

type serviceSpec struct {
	id, ua string
	weight float64 // share of the steady service volume
	cat    []event.Category
	dept   int
}

var services = [nServices]serviceSpec{
	{"svc-lab-interface", "lis-connector/3.2", 4, cats(event.CategoryHealth), deptLaboratory},
	{"svc-pharmacy-sync", "pharmacy-sync/1.9", 2, cats(event.CategoryPrescription), deptPharmacy},
	{"svc-billing-batch", "billing-batch/5.0", 1.5, cats(event.CategoryFinancial), deptFinance},
	{"svc-notify", "notify-gateway/2.4", 1, cats(event.CategoryContact), deptPatientServices},
	{"svc-reporting", "reporting-engine/7.1", 0, cats(event.CategoryHealth, event.CategoryIDNumber), deptRecords},
}

func cats(c ...event.Category) []event.Category { return c }

// Category sets shared by every event that uses them (sinks must not
// modify events).
var (
	catHealth         = cats(event.CategoryHealth)
	catPrescription   = cats(event.CategoryPrescription)
	catHealthRx       = cats(event.CategoryHealth, event.CategoryPrescription)
	catHealthContact  = cats(event.CategoryHealth, event.CategoryContact)
	catHealthID       = cats(event.CategoryHealth, event.CategoryIDNumber)
	catChat           = cats(event.CategoryChat)
	catLocation       = cats(event.CategoryLocation)
	catContact        = cats(event.CategoryContact)
	catContactID      = cats(event.CategoryContact, event.CategoryIDNumber)
	catIDNumber       = cats(event.CategoryIDNumber)
	catBiometric      = cats(event.CategoryBiometric)
	catFinancial      = cats(event.CategoryFinancial)
	catFinContact     = cats(event.CategoryFinancial, event.CategoryContact)
	catFinID          = cats(event.CategoryFinancial, event.CategoryIDNumber)
	catAccount        = cats(event.CategoryAccount)
	catDeviceID       = cats(event.CategoryDeviceID)
	catExportBulk     = cats(event.CategoryHealth, event.CategoryContact, event.CategoryIDNumber)
	catContactHealth  = cats(event.CategoryContact, event.CategoryHealth)
	catHealthRxID     = cats(event.CategoryHealth, event.CategoryPrescription, event.CategoryIDNumber)
	catBiometricID    = cats(event.CategoryBiometric, event.CategoryIDNumber)
	minorVariantCache = map[*event.Category][]event.Category{}
)

// allCategorySets lists the shared sets, so that their minor variants
// (with minor_data appended) can be built once.
var allCategorySets = [][]event.Category{catHealth, catPrescription, catHealthRx, catHealthContact,
	catHealthID, catChat, catLocation, catContact, catContactID, catIDNumber, catBiometric, catFinancial,
	catFinContact, catFinID, catAccount, catDeviceID, catExportBulk, catContactHealth, catHealthRxID,
	catBiometricID, services[svcLab].cat, services[svcPharmacy].cat, services[svcBilling].cat,
	services[svcNotify].cat, services[svcReporting].cat}

func init() {
	for _, s := range allCategorySets {
		m := make([]event.Category, len(s), len(s)+1)
		copy(m, s)
		minorVariantCache[&s[0]] = append(m, event.CategoryMinorData)
	}
}

// forSubject returns c, with minor_data added when the subject is a minor.
func forSubject(c []event.Category, minor bool) []event.Category {
	if !minor {
		return c
	}
	if m, ok := minorVariantCache[&c[0]]; ok {
		return m
	}
	panic("simulate: category set without a minor variant")
}

// deviceModel is a phone the app runs on.
type deviceModel struct {
	model, os, osVersion string
	weight               float64
}

var deviceModels = []deviceModel{
	{"23049RAD8C", "android", "14", 12},  // Xiaomi
	{"ALN-AL00", "harmonyos", "4.0", 14}, // Huawei
	{"PHB110", "android", "13", 9},       // OPPO
	{"V2227A", "android", "13", 8},       // vivo
	{"SM-S9180", "android", "14", 8},     // Samsung
	{"Pixel 8", "android", "14", 4},
	{"iPhone15,2", "ios", "17.4", 16},
	{"iPhone14,5", "ios", "16.7", 12},
	{"iPhone16,1", "ios", "17.5", 9},
	{"iPad13,18", "ipados", "17.4", 3},
}

// allModels are the phones, then the emulators; devices hold an index.
var allModels = append(append([]deviceModel(nil), deviceModels...), emulatorModels...)

var deviceModelWeights = func() weights {
	w := make([]float64, len(deviceModels))
	for i, m := range deviceModels {
		w[i] = m.weight
	}
	return newWeights(w...)
}()

var appVersions = []string{"5.12.0", "5.12.1", "5.13.0", "5.13.2"}

// Emulator images as risk SDKs report them.
var emulatorModels = []deviceModel{
	{"sdk_gphone64_x86_64", "android", "13", 1},
	{"Android SDK built for x86_64", "android", "11", 1},
	{"SM-G9910", "android", "12", 1},  // an emulator posing as a Samsung
	{"ASUS_Z01QD", "android", "9", 1}, // a common gaming-emulator profile
}

// User agents of staff clients.
var (
	uaWorkstation = "EHRClient/8.4.2 (Windows NT 10.0; Win64; x64)"
	uaTablet      = "EHRMobile/3.2.0 (iPadOS 17.4)"
	uaBrowser     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
	uaMacBrowser  = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"
	uaAttackers   = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
		"python-requests/2.32.3",
	}
)
