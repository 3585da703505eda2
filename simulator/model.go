package simulator

import (
	"math"
	"time"

	"github.com/sunlight-gov/sunlight/internal/config"
)

// The shape of a real opening day, as offsets from local midnight.
const (
	openAt     = 8*time.Hour + 30*time.Minute
	lastTicket = 17 * time.Hour
	closeAt    = 17*time.Hour + 30*time.Minute
	lunchStart = 12 * time.Hour
	lunchEnd   = 13*time.Hour + 30*time.Minute
	// With AlwaysOpen a day runs from midnight to alwaysClose, and
	// services are cut short so that they end before midnight: the next
	// day's simulation starts with every window free.
	alwaysClose = 23*time.Hour + 45*time.Minute
	alwaysEnd   = 24*time.Hour - 90*time.Second
)

// Realism parameters (DESIGN.md, "Domain notes").
const (
	handlingSigma = 0.5  // lognormal sigma of handling times
	noShowShare   = 0.03 // of calls: called twice, then the window moves on
	ratingShare   = 0.70 // of services: the applicant rates on the pad
	acceptShare   = 0.90 // of services: a case is accepted
	rejectShare   = 0.03 // of services: a case is rejected (不予受理)
	lateShare     = 0.10 // of accepted cases: completed past the time limit
	maxOverrun    = 10   // working days past the limit, at most
	patienceGrace = 15 * time.Minute
	patienceMean  = 60 * time.Minute
	targetUtil    = 0.85 // cap of a window's planned load, of its capacity
	visitOverhead = 1.2  // minutes per visit beside handling (call, walk, rating)
)

// Planned tickets per window and normal day, by tier (capped by capacity):
// a city hall of 12 windows lands around 500–800 a day, a district centre
// of 4 around 150, a community station of 2 around 40.
var tierPerWindow = map[config.Tier]float64{
	config.TierCity:      62,
	config.TierDistrict:  38,
	config.TierCommunity: 20,
}

// arrivalKnots is the relative arrival rate over a real opening day
// (minutes after midnight, weight), linearly interpolated: people queue
// at the door before 8:30, a morning peak until 10:30, a lunch dip and a
// smaller afternoon peak.
var arrivalKnots = [][2]float64{
	{510, 2.2}, {520, 1.6}, {540, 1.35}, {570, 1.6}, {630, 1.55}, {660, 1.25},
	{700, 0.9}, {720, 0.45}, {780, 0.4}, {810, 0.75}, {870, 1.15}, {930, 1.1},
	{960, 0.8}, {1020, 0.35},
}

// arrivalWeight interpolates arrivalKnots at minute m.
func arrivalWeight(m float64) float64 {
	k := arrivalKnots
	if m <= k[0][0] {
		return k[0][1]
	}
	for i := 1; i < len(k); i++ {
		if m <= k[i][0] {
			f := (m - k[i-1][0]) / (k[i][0] - k[i-1][0])
			return k[i-1][1] + f*(k[i][1]-k[i-1][1])
		}
	}
	return k[len(k)-1][1]
}

// arrivalArea is the integral of arrivalWeight over the ticket hours, in
// weight-minutes, and arrivalMax its maximum (for thinning).
var arrivalArea, arrivalMax = func() (float64, float64) {
	area, top := 0.0, 0.0
	for i := 1; i < len(arrivalKnots); i++ {
		a, b := arrivalKnots[i-1], arrivalKnots[i]
		area += (b[0] - a[0]) * (a[1] + b[1]) / 2
		top = math.Max(top, math.Max(a[1], b[1]))
	}
	return area, top
}()

// ratingsNormal and ratingsAfterLongWait are cumulative shares of the
// ratings 5, 4, 3, 2, 1.
var (
	ratingsNormal        = [5]float64{0.80, 0.92, 0.97, 0.99, 1}
	ratingsAfterLongWait = [5]float64{0.62, 0.82, 0.92, 0.97, 1}
)
