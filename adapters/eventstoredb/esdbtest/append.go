package esdbtest

import (
	"errors"
	"io"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The expected versions of the server's write path, as in
// src/KurrentDB.Core/Data/ExpectedVersion.cs.
const (
	expectAny      int64 = -2
	expectNoStream int64 = -1
	expectExists   int64 = -4
)

// Append is the append RPC: an options message, then the proposed events.
// The server requires the "type" and "content-type" metadata of each
// event (Streams.Append.cs), then checks the expected revision.
func (s *streamsService) Append(stream api.Streams_AppendServer) error {
	head, err := stream.Recv()
	if err != nil {
		return err
	}
	o := head.GetOptions()
	if o == nil {
		return status.Error(codes.InvalidArgument, "the first message of an append must be its options")
	}
	name := string(o.GetStreamIdentifier().GetStreamName())
	var expected int64
	switch o.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_Revision:
		expected = int64(o.GetRevision())
	case *api.AppendReq_Options_Any:
		expected = expectAny
	case *api.AppendReq_Options_NoStream:
		expected = expectNoStream
	case *api.AppendReq_Options_StreamExists:
		expected = expectExists
	default:
		return status.Error(codes.InvalidArgument, "expected stream revision is required")
	}
	var recs []*record
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		r, err := proposed(req.GetProposedMessage())
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	if err := s.faults.beforeAppend(stream.Context(), name); err != nil {
		return err
	}
	resp := s.log.commit(name, expected, recs)
	if err := s.faults.afterAppend(); err != nil {
		return err // the events are written; the reply is lost
	}
	return stream.SendAndClose(resp)
}

// proposed turns a proposed message into a record, or the server's error
// for a missing required metadata key.
func proposed(m *api.AppendReq_ProposedMessage) (*record, error) {
	if m == nil {
		return nil, status.Error(codes.InvalidArgument, "an append's messages after the first must be events")
	}
	typ, ok := m.GetMetadata()["type"]
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "Required Metadata Property 'type' is missing")
	}
	ct, ok := m.GetMetadata()["content-type"]
	if !ok {
		return nil, status.Error(codes.InvalidArgument, "Required Metadata Property 'content-type' is missing")
	}
	id, err := fromProtoUUID(m.GetId())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &record{id: id, typ: typ, contentType: ct, data: m.GetData(), meta: m.GetCustomMetadata()}, nil
}

// success is the reply to a written (or already written) append whose
// last event is r.
func success(r *record) *api.AppendResp {
	return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: r.number},
		PositionOption: &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{
			CommitPosition: r.pos, PreparePosition: r.pos}},
	}}}
}

// wrongVersion is the reply to a failed consistency check, with both the
// current and the pre-20.6.0 ("2060") fields set, as Streams.Append.cs
// sets them.
func wrongVersion(expected, current int64) *api.AppendResp {
	w := &api.AppendResp_WrongExpectedVersion{}
	switch expected {
	case expectAny:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_Any_20_6_0{Any_20_6_0: &shared.Empty{}}
	case expectExists:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_StreamExists_20_6_0{StreamExists_20_6_0: &shared.Empty{}}
	case expectNoStream:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: ^uint64(0)}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: uint64(expected)}
		w.ExpectedRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_ExpectedRevision_20_6_0{ExpectedRevision_20_6_0: uint64(expected)}
	}
	if current < 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(current)}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(current)}
	}
	return &api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

// fromProtoUUID reads either form of the wire UUID.
func fromProtoUUID(u *shared.UUID) (uuid.UUID, error) {
	if st := u.GetStructured(); st != nil {
		var id uuid.UUID
		putUint64(id[:8], uint64(st.GetMostSignificantBits()))
		putUint64(id[8:], uint64(st.GetLeastSignificantBits()))
		return id, nil
	}
	return uuid.Parse(u.GetString_())
}

// toProtoUUID writes a UUID in the form the reader asked for.
func toProtoUUID(id uuid.UUID, asString bool) *shared.UUID {
	if asString {
		return &shared.UUID{Value: &shared.UUID_String_{String_: id.String()}}
	}
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(getUint64(id[:8])),
		LeastSignificantBits: int64(getUint64(id[8:])),
	}}}
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

func getUint64(b []byte) (v uint64) {
	for i := range 8 {
		v = v<<8 | uint64(b[i])
	}
	return v
}
