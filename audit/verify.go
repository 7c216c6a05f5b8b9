package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-jose/go-jose/v3"
)

// Reason classifies why a log failed verification.
type Reason string

const (
	// ReasonMalformed: a record is not a compact JWS carrying an audit SET
	// (wrong "typ", missing claims, garbage).
	ReasonMalformed Reason = "malformed"
	// ReasonBadSignature: a record is not signed by any trusted key, or uses
	// an algorithm that is not allowed.
	ReasonBadSignature Reason = "bad signature"
	// ReasonEdited: a record names a trusted key but its content no longer
	// matches the signature: it was modified after it was signed. (A forgery
	// that claims a trusted key's "kid" also lands here.)
	ReasonEdited Reason = "edited"
	// ReasonRemoved: one or more sequence numbers are missing.
	ReasonRemoved Reason = "removed"
	// ReasonReordered: a record sits at a position other than the one its
	// signed "seq" claims (moved, swapped or duplicated).
	ReasonReordered Reason = "reordered"
	// ReasonBrokenChain: a validly signed record's "prev" does not match the
	// hash of the record before it, or a record does not match the anchored
	// Head: one of them was replaced by a SET signed elsewhere with a trusted
	// key, or the log was rewritten by someone holding the key.
	ReasonBrokenChain Reason = "broken chain"
	// ReasonTruncated: the log ends before the anchored Head.
	ReasonTruncated Reason = "truncated"
	// ReasonUnsealed: the log ends with unsigned records that no signed
	// record seals. Log always signs the newest record of a batch, so the
	// signed record after them was removed, or they were added.
	ReasonUnsealed Reason = "unsealed"
)

// maxUnsealedRun bounds how many unsigned records in a row Verify holds while
// it waits for the signed record that seals them. Log writes at most
// Options.MaxBatch-1 in a row.
const maxUnsealedRun = 1 << 16

// ErrTampered matches (with errors.Is) every *TamperError.
var ErrTampered = errors.New("audit: log failed verification")

// TamperError reports the first position at which a log failed verification.
type TamperError struct {
	// Seq is the first sequence number that could not be verified.
	Seq    int64
	Reason Reason
	// Detail explains what was found, for the operator.
	Detail string
}

func (e *TamperError) Error() string {
	return fmt.Sprintf("audit: log broken at seq %d (%s): %s", e.Seq, e.Reason, e.Detail)
}

// Is makes errors.Is(err, ErrTampered) true.
func (e *TamperError) Is(target error) bool { return target == ErrTampered }

// Head identifies the end of a verified chain: the last sequence number and
// the hash of its token (the "prev" the next record will carry). Record it
// somewhere the log's writers cannot change (a ticket, a notarized e-mail,
// another system's log) and pass it back as Verifier.Anchor later: only then
// is removal of the newest records detectable.
type Head struct {
	Seq  int64
	Hash string
}

// String formats h as "<seq>:<hash>", the form ParseHead reads.
func (h Head) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash }

// ParseHead parses the output of Head.String.
func ParseHead(s string) (Head, error) {
	seq, hash, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 0 || len(hash) != len(GenesisHash) {
		return Head{}, fmt.Errorf("audit: %q is not a log head (want <seq>:<base64url SHA-256>)", s)
	}
	return Head{Seq: n, Hash: hash}, nil
}

// Report is the result of verifying a log.
type Report struct {
	// Records is how many records, from seq 1, verified.
	Records int64
	// Head is the last verified record; Head{0, GenesisHash} for an empty
	// log. When verification fails it is the end of the intact prefix.
	Head Head
}

// Verifier checks a whole audit log. The zero value is not usable: set Keys.
type Verifier struct {
	// Keys resolves the trusted public key for each record.
	Keys KeyFunc
	// Algorithms is the allow-list of signature algorithms; nil means
	// DefaultAlgorithms. It must be a subset of DefaultAlgorithms.
	Algorithms []jose.SignatureAlgorithm
	// Anchor, if Seq > 0, is a Head recorded earlier outside the log. The log
	// must reach Anchor.Seq and the record there must hash to Anchor.Hash.
	Anchor Head
	// PageSize is how many records are read per storage call; 0 means 256.
	PageSize int
	// Visit, if set, is called with every verified record's Event, in
	// order, once the record is known to be sealed by a signature. An error
	// from Visit stops Verify and is returned as is.
	Visit func(seq int64, e Event) error
}

// Verify checks the log in s with DefaultAlgorithms and no anchor. See
// Verifier.Verify.
func Verify(ctx context.Context, s Storage, keys KeyFunc) (Report, error) {
	return (&Verifier{Keys: keys}).Verify(ctx, s)
}

// Verify walks the whole log in s from seq 1 and checks that every record is
// either a SET signed by a trusted key with an allowed algorithm or an
// unsigned claims set followed, later in the chain, by such a signed record;
// that the sequence numbers run 1, 2, 3… without gaps and match where each
// record is stored; and that each record's "prev" is the hash of the record
// before it. A signed record's "prev" is under its signature, so it seals
// every record before it: an unsigned one cannot change without breaking the
// chain at the next signed record.
//
// A log that fails returns a *TamperError (errors.Is ErrTampered) naming the
// first broken seq, with the Report of the intact, sealed prefix. Other
// errors come from the storage, Visit or a bad Verifier.
func (v *Verifier) Verify(ctx context.Context, s Storage) (Report, error) {
	rep := Report{Head: Head{Seq: 0, Hash: GenesisHash}}
	if v.Keys == nil {
		return rep, errors.New("audit: Verifier needs Keys")
	}
	algs := v.Algorithms
	if algs == nil {
		algs = DefaultAlgorithms
	}
	for _, a := range algs {
		if !algAllowed(a, DefaultAlgorithms) {
			return rep, fmt.Errorf("audit: algorithm %q cannot be allowed for audit SETs", a)
		}
	}
	if v.Anchor.Seq < 0 || (v.Anchor.Seq > 0 && v.Anchor.Hash == "") {
		return rep, fmt.Errorf("audit: anchor %s is not a log head", v.Anchor)
	}
	pageSize := v.PageSize
	if pageSize <= 0 {
		pageSize = 256
	}

	// tip is the last record whose place in the chain checked out; rep only
	// moves up to it when a signed record seals it. unsealed holds the
	// unsigned records since rep.Head, for Visit.
	tip := rep.Head
	var unsealed []*setClaims
	var after int64
	for {
		recs, err := s.ListAuditRecords(ctx, after, pageSize)
		if err != nil {
			return rep, fmt.Errorf("audit: list records after seq %d: %w", after, err)
		}
		if len(recs) == 0 {
			break
		}
		for i, r := range recs {
			if r.Seq <= after {
				return rep, fmt.Errorf("audit: storage listed seq %d after seq %d; ListAuditRecords must be ascending", r.Seq, after)
			}
			after = r.Seq
			want := tip.Seq + 1
			broken := func(reason Reason, format string, a ...any) (Report, error) {
				return rep, &TamperError{Seq: want, Reason: reason, Detail: fmt.Sprintf(format, a...)}
			}

			c, signed, err := parse(r.Token, v.Keys, algs)
			if err != nil {
				var pe *parseError
				if errors.As(err, &pe) {
					return broken(pe.reason, "record stored as seq %d: %v", r.Seq, pe.err)
				}
				return broken(ReasonMalformed, "record stored as seq %d: %v", r.Seq, err)
			}
			switch {
			case c.Seq < want:
				return broken(ReasonReordered, "record numbered seq %d appears where seq %d belongs", c.Seq, want)
			case c.Seq > want:
				found, err := findSeq(ctx, s, recs[i+1:], after, pageSize, want)
				if err != nil {
					return rep, err
				}
				if found {
					return broken(ReasonReordered, "record numbered seq %d appears where seq %d belongs; seq %d is stored later", c.Seq, want, want)
				}
				if c.Seq == want+1 {
					return broken(ReasonRemoved, "record %d is missing; the next record is numbered seq %d", want, c.Seq)
				}
				return broken(ReasonRemoved, "records %d to %d are missing; the next record is numbered seq %d", want, c.Seq-1, c.Seq)
			}
			if r.Seq != c.Seq {
				return broken(ReasonReordered, "record numbered seq %d is stored as seq %d", c.Seq, r.Seq)
			}
			if c.Prev != tip.Hash {
				if want == 1 {
					return broken(ReasonBrokenChain, `first record's "prev" is not the genesis hash`)
				}
				return broken(ReasonBrokenChain, `"prev" does not match the hash of record %d: one of the two was edited or replaced`, want-1)
			}
			hash := TokenHash(r.Token)
			if v.Anchor.Seq == c.Seq && hash != v.Anchor.Hash {
				return broken(ReasonBrokenChain, "record %d does not match the anchored head %s: the log was rewritten", c.Seq, v.Anchor)
			}
			tip = Head{Seq: c.Seq, Hash: hash}
			if !signed {
				if len(unsealed) == maxUnsealedRun {
					return rep, &TamperError{Seq: rep.Head.Seq + 1, Reason: ReasonMalformed,
						Detail: fmt.Sprintf("more than %d unsigned records in a row from seq %d", maxUnsealedRun, rep.Head.Seq+1)}
				}
				unsealed = append(unsealed, c)
				continue
			}
			// c seals itself and every unsigned record before it.
			if v.Visit != nil {
				for _, u := range append(unsealed, c) {
					e, err := u.event()
					if err != nil {
						return rep, &TamperError{Seq: u.Seq, Reason: ReasonMalformed, Detail: err.Error()}
					}
					if err := v.Visit(u.Seq, e); err != nil {
						return rep, err
					}
				}
			}
			unsealed = unsealed[:0]
			rep.Records = tip.Seq
			rep.Head = tip
		}
	}
	if len(unsealed) > 0 {
		return rep, &TamperError{
			Seq:    rep.Head.Seq + 1,
			Reason: ReasonUnsealed,
			Detail: fmt.Sprintf("records %d to %d are unsigned and no signed record follows them: the record that sealed them was removed, or they were added", rep.Head.Seq+1, tip.Seq),
		}
	}
	if v.Anchor.Seq > rep.Head.Seq {
		return rep, &TamperError{
			Seq:    rep.Head.Seq + 1,
			Reason: ReasonTruncated,
			Detail: fmt.Sprintf("the log ends at seq %d but the anchored head is at seq %d", rep.Head.Seq, v.Anchor.Seq),
		}
	}
	return rep, nil
}

// findSeq reports whether a record whose (unverified) "seq" claim is want
// appears in rest or after storage seq after. It tells a moved record from a
// removed one; the moved record is verified when its turn comes.
func findSeq(ctx context.Context, s Storage, rest []Record, after int64, pageSize int, want int64) (bool, error) {
	for {
		for _, r := range rest {
			if unverifiedSeq(r.Token) == want {
				return true, nil
			}
		}
		if n := len(rest); n > 0 {
			after = rest[n-1].Seq
		}
		recs, err := s.ListAuditRecords(ctx, after, pageSize)
		if err != nil {
			return false, fmt.Errorf("audit: list records after seq %d: %w", after, err)
		}
		if len(recs) == 0 {
			return false, nil
		}
		if recs[len(recs)-1].Seq <= after {
			return false, fmt.Errorf("audit: storage listed seq %d after seq %d; ListAuditRecords must be ascending", recs[len(recs)-1].Seq, after)
		}
		rest = recs
	}
}

// unverifiedSeq returns the "seq" claim of token without checking its
// signature, or 0.
func unverifiedSeq(token string) int64 {
	payload := []byte(token)
	if !strings.HasPrefix(token, "{") {
		jws, err := jose.ParseSigned(token)
		if err != nil {
			return 0
		}
		payload = jws.UnsafePayloadWithoutVerification()
	}
	var c struct {
		Seq int64 `json:"seq"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return 0
	}
	return c.Seq
}
