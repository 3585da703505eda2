// Package simulator simulates a service hall for demos and tests. It owns
// two things:
//
//   - RTSP cameras, one per configured window, each looping a generated
//     H.264 clip in real time (CameraServer, camera*.go, clip*.go);
//   - the halls' queue and case events: a deterministic Timeline of tickets,
//     calls, services, ratings and cases with realistic arrival and
//     handling times (Timeline in timeline.go; the model's numbers in
//     model.go, the halls' plans in generator.go, one hall-day's event loop
//     in daysim.go, one visit and its case in visit.go, the day-by-day
//     stream in stream.go), written into the store as history by
//     Backfill (backfill.go) and posted to the events API as simulated time
//     advances by Live (live.go) through a Poster (poster.go).
//
// The same seed always gives the same events with the same event ids, so a
// backfill and a later live run agree and re-sending an event is a no-op.
// No applicant's personal data is ever generated.
package simulator
