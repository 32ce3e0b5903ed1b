package esdbtest

import (
	"regexp"
	"strings"

	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// defaultReadBatch is the server's page size, the max search window of a
// filter that names none.
const defaultReadBatch = 32

// subscription is one live catch-up subscription.
type subscription struct {
	drop chan error // a fault ends it with the error sent
}

// filter decides which records a filtered subscription delivers.
type filter func(*record) bool

// newFilter builds a subscription's filter: on the stream name or the
// event type, by prefixes or by a regex (Streams.Read.cs,
// ConvertToEventFilter). No filter passes everything.
func newFilter(f *api.ReadReq_Options_FilterOptions) (filter, error) {
	if f == nil {
		return func(*record) bool { return true }, nil
	}
	expr, onType := f.GetStreamIdentifier(), false
	if f.GetEventType() != nil {
		expr, onType = f.GetEventType(), true
	}
	key := func(r *record) string {
		if onType {
			return r.typ
		}
		return r.stream
	}
	if expr.GetRegex() != "" {
		re, err := regexp.Compile(expr.GetRegex())
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		return func(r *record) bool { return re.MatchString(key(r)) }, nil
	}
	prefixes := expr.GetPrefix()
	return func(r *record) bool {
		for _, p := range prefixes {
			if strings.HasPrefix(key(r), p) {
				return true
			}
		}
		return false
	}, nil
}

// subscribe serves a catch-up subscription to $all: a confirmation, the
// matching records after the start position (exclusive), a checkpoint
// every interval of records considered, a checkpoint and a caught-up
// message on reaching the end, then each new matching record
// (Enumerator.AllSubscriptionFiltered.cs). It ends when the client leaves
// or a fault drops it.
func (s *streamsService) subscribe(o *api.ReadReq_Options, stream api.Streams_ReadServer) error {
	match, err := newFilter(o.GetFilter())
	if err != nil {
		return err
	}
	interval := uint64(0) // 0: no checkpoints (an unfiltered subscription)
	if f := o.GetFilter(); f != nil {
		window := uint64(defaultReadBatch)
		if m := f.GetMax(); m > 0 {
			window = uint64(m)
		}
		interval = uint64(max(f.GetCheckpointIntervalMultiplier(), 1)) * window
	}
	sub := s.faults.subscribed()
	defer s.faults.unsubscribed(sub)
	checkpoint, started := uint64(0), false // position of the last record sent or passed
	log, _ := s.log.all()
	switch all := o.GetAll(); {
	case all.GetPosition() != nil:
		checkpoint, started = all.GetPosition().GetCommitPosition(), true
	case all.GetEnd() != nil && len(log) > 0:
		checkpoint, started = log[len(log)-1].pos, true
	}
	asString := o.GetUuidOption().GetString_() != nil
	if err := stream.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString()}}}); err != nil {
		return err
	}
	live, considered := false, uint64(0)
	for {
		log, changed := s.log.all()
		for _, r := range log {
			if started && r.pos <= checkpoint {
				continue
			}
			checkpoint, started = r.pos, true
			if match(r) {
				if err := stream.Send(eventResp(r, asString)); err != nil {
					return err
				}
			}
			if considered++; !live && interval > 0 && considered%interval == 0 {
				if err := stream.Send(checkpointResp(checkpoint)); err != nil {
					return err
				}
			}
		}
		if !live {
			live = true
			if err := goLive(stream, checkpoint, started, interval > 0); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case err := <-sub.drop:
			return err
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// goLive sends what the server sends on reaching the end of the log: a
// checkpoint (filtered subscriptions) and the caught-up message.
func goLive(stream api.Streams_ReadServer, checkpoint uint64, started, checkpoints bool) error {
	if checkpoints && started {
		if err := stream.Send(checkpointResp(checkpoint)); err != nil {
			return err
		}
	}
	// The server adds a timestamp and the checkpoint to the message; the
	// client's protos (v4.2.0) predate those fields, so it sends none.
	return stream.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}})
}

func checkpointResp(pos uint64) *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
		CommitPosition: pos, PreparePosition: pos}}}
}
