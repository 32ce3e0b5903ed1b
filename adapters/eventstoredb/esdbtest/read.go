package esdbtest

import (
	"sort"
	"strconv"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Read is the read RPC: a stream or $all, forwards or backwards, a count
// or a subscription (Streams.Read.cs picks one enumerator per case).
func (s *streamsService) Read(req *api.ReadReq, stream api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o.GetUuidOption() == nil {
		return status.Error(codes.InvalidArgument, "'uuidOption' is required")
	}
	if o.GetSubscription() != nil {
		if o.GetReadDirection() != api.ReadReq_Options_Forwards {
			return status.Error(codes.InvalidArgument, "subscriptions read forwards")
		}
		if o.GetAll() == nil {
			return status.Error(codes.Unimplemented, "esdbtest: only $all subscriptions are emulated")
		}
		return s.subscribe(o, stream)
	}
	asString := o.GetUuidOption().GetString_() != nil
	var out []*record
	var notFound string
	if st := o.GetStream(); st != nil {
		out, notFound = s.readStream(st, o.GetReadDirection(), o.GetCount())
	} else {
		if o.GetFilter() != nil {
			return status.Error(codes.Unimplemented, "esdbtest: filtered reads of $all are not emulated (the adapter filters its pages)")
		}
		out = s.readAll(o.GetAll(), o.GetReadDirection(), o.GetCount())
	}
	if notFound != "" {
		return stream.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(notFound)}}}})
	}
	limit := s.faults.readBreak()
	for i, r := range out {
		if limit >= 0 && i >= limit {
			return status.Error(codes.Unavailable, "esdbtest: connection lost mid-read")
		}
		if err := stream.Send(eventResp(r, asString)); err != nil {
			return err
		}
	}
	return nil
}

// readStream returns a stream's events in the order read, or the name of
// the missing stream. Forwards reads events numbered from the revision on;
// backwards from the revision (or the end) down.
func (s *streamsService) readStream(o *api.ReadReq_Options_StreamOptions, dir api.ReadReq_Options_ReadDirection, count uint64) ([]*record, string) {
	name := string(o.GetStreamIdentifier().GetStreamName())
	evs := s.log.stream(name)
	if len(evs) == 0 {
		return nil, name
	}
	var out []*record
	if dir == api.ReadReq_Options_Forwards {
		from := uint64(0)
		if o.GetRevisionOption() != nil && o.GetStart() == nil {
			from = o.GetRevision()
			if o.GetEnd() != nil {
				from = uint64(len(evs))
			}
		}
		for n := from; n < uint64(len(evs)) && uint64(len(out)) < count; n++ {
			out = append(out, evs[n])
		}
		return out, ""
	}
	from := int64(len(evs)) - 1
	if _, ok := o.GetRevisionOption().(*api.ReadReq_Options_StreamOptions_Revision); ok {
		from = min(from, int64(o.GetRevision()))
	}
	if o.GetStart() != nil {
		from = 0
	}
	for n := from; n >= 0 && uint64(len(out)) < count; n-- {
		out = append(out, evs[n])
	}
	return out, ""
}

// readAll returns $all's records from a position: forwards those at or
// after it, backwards those before it (ReadAllForwards/Backwards).
func (s *streamsService) readAll(o *api.ReadReq_Options_AllOptions, dir api.ReadReq_Options_ReadDirection, count uint64) []*record {
	log, _ := s.log.all()
	var pos uint64
	switch {
	case o.GetStart() != nil:
		pos = 0
	case o.GetEnd() != nil:
		pos = ^uint64(0)
	default:
		pos = o.GetPosition().GetCommitPosition()
	}
	i := sort.Search(len(log), func(i int) bool { return log[i].pos >= pos })
	var out []*record
	if dir == api.ReadReq_Options_Forwards {
		for ; i < len(log) && uint64(len(out)) < count; i++ {
			out = append(out, log[i])
		}
		return out
	}
	for i--; i >= 0 && uint64(len(out)) < count; i-- {
		out = append(out, log[i])
	}
	return out
}

// eventResp is a record as the server sends it: the system metadata
// (type, content-type, created in .NET ticks since the Unix epoch), the
// positions and the ID in the form the reader asked for.
func eventResp(r *record, asString bool) *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               toProtoUUID(r.id, asString),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   r.number,
			CommitPosition:   r.pos,
			PreparePosition:  r.pos,
			Metadata: map[string]string{
				"type":         r.typ,
				"content-type": r.contentType,
				"created":      strconv.FormatInt(r.created.UnixNano()/100, 10),
			},
			Data:           r.data,
			CustomMetadata: r.meta,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: r.pos},
	}}}
}
