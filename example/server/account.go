package server

import (
	"errors"
	"net/http"
	"net/mail"
	"strings"

	"github.com/fosite-contrib/grants/handler/ciba"
	"github.com/fosite-contrib/grants/handler/ciba/smschannel"
)

// The account page (seed 003: several authentication devices, one preferred): the signed-in user's
// CIBA authentication devices, to add, name, prefer and remove, and their CIBA user code (CIBA Core
// §7.1), which clients registered for it must send with every request.
//
// DEMO: an address or number is linked as typed; a real server proves the person receives there first
// (a code sent to it), or pairs an app.

func init() {
	titles["account"] = "Your account"
}

func (s *Server) accountRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /account", s.accountPage)
	m.HandleFunc("POST /account/devices", s.accountDevices)
	m.HandleFunc("POST /account/user-code", s.accountUserCode)
}

// deviceView is one device as the account page shows it.
type deviceView struct {
	ciba.EnrolledDevice
	// How says how requests reach the person there.
	How string
}

func deviceHow(d ciba.Device) string {
	switch d.Kind {
	case "email":
		return "A link by e-mail to " + d.ID
	case smschannel.DeviceKind:
		return "A text message to " + d.ID + " (reply YES or NO)"
	case deviceKindApp:
		return "This site: requests wait on the Sign-in requests page"
	}
	return d.Kind + " " + d.ID
}

func (s *Server) accountPage(rw http.ResponseWriter, r *http.Request) {
	who := s.requireSignIn(rw, r)
	if who == nil {
		return
	}
	s.renderAccount(rw, r, who, http.StatusOK, "", nil)
}

func (s *Server) renderAccount(rw http.ResponseWriter, r *http.Request, who *signedIn, status int, done string, errMsg *pageError) {
	ctx := r.Context()
	ds, err := s.ciba.devices.List(ctx, who.Subject)
	if err != nil {
		s.log.ErrorContext(ctx, "account: listing devices failed", "error", err)
		errMsg = &pageError{What: "Your devices could not be listed.", Next: "Reload the page in a moment."}
	}
	views := make([]deviceView, 0, len(ds))
	for _, d := range ds {
		views = append(views, deviceView{EnrolledDevice: d, How: deviceHow(d.Device)})
	}
	hasCode, err := s.ciba.userCodes.HasCode(ctx, who.Subject)
	if err != nil {
		s.log.ErrorContext(ctx, "account: reading the user code failed", "error", err)
	}
	s.render(rw, status, "account", map[string]interface{}{
		"Who": who, "Devices": views, "HasUserCode": hasCode, "Done": done, "Error": errMsg,
		"MaxDevices": ciba.DefaultMaxDevices, "MinCode": ciba.MinUserCodeLength,
	})
}

// accountDevices adds, renames, prefers or removes one of the signed-in user's devices.
func (s *Server) accountDevices(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.renderAccount(rw, r, who, http.StatusForbidden, "", &pageError{What: "The form expired, so nothing was changed.", Next: "Try again below."})
	})
	if !ok {
		return
	}
	ctx := r.Context()
	d := s.ciba.devices
	id, name := r.PostFormValue("device"), r.PostFormValue("name")
	var (
		err  error
		done string
	)
	switch r.PostFormValue("action") {
	case "add":
		var dev ciba.Device
		if dev, err = deviceFromForm(r.PostFormValue("kind"), r.PostFormValue("address")); err == nil {
			_, err = d.Add(ctx, who.Subject, dev, name)
			done = "Device added. Requests go to your preferred device; you can change which one below."
		}
	case "rename":
		err, done = d.Rename(ctx, who.Subject, id, name), "Name saved."
	case "prefer":
		err, done = d.Prefer(ctx, who.Subject, id), "From now on, requests reach you there first."
	case "remove":
		err, done = d.Remove(ctx, who.Subject, id), "Device removed. Requests no longer reach you there."
	default:
		err = errUnknownAction
	}
	if err != nil {
		status, msg := accountError(err)
		s.renderAccount(rw, r, who, status, "", &msg)
		return
	}
	s.renderAccount(rw, r, who, http.StatusOK, done, nil)
}

// accountUserCode sets or clears the signed-in user's CIBA user code.
func (s *Server) accountUserCode(rw http.ResponseWriter, r *http.Request) {
	who, ok := s.signedInPost(rw, r, func(who *signedIn) {
		s.renderAccount(rw, r, who, http.StatusForbidden, "", &pageError{What: "The form expired, so nothing was changed.", Next: "Try again below."})
	})
	if !ok {
		return
	}
	ctx := r.Context()
	var (
		err  error
		done string
	)
	switch r.PostFormValue("action") {
	case "set":
		err, done = s.ciba.userCodes.Set(ctx, who.Subject, r.PostFormValue("user_code")), "User code saved. Apps that ask for it must now send it."
	case "clear":
		err, done = s.ciba.userCodes.Clear(ctx, who.Subject), "User code removed. Apps that need one cannot ask for you until you set a new one."
	default:
		err = errUnknownAction
	}
	if err != nil {
		status, msg := accountError(err)
		s.renderAccount(rw, r, who, status, "", &msg)
		return
	}
	s.renderAccount(rw, r, who, http.StatusOK, done, nil)
}

var (
	errUnknownAction = errors.New("example: unknown action")
	errBadAddress    = errors.New("example: bad address")
)

// deviceFromForm makes a device of the kind and address typed on the account page.
func deviceFromForm(kind, address string) (ciba.Device, error) {
	address = strings.TrimSpace(address)
	switch kind {
	case "email":
		a, err := mail.ParseAddress(address)
		if err != nil || a.Name != "" || a.Address != address {
			return ciba.Device{}, errBadAddress
		}
		return ciba.Device{ID: strings.ToLower(address), Kind: "email"}, nil
	case smschannel.DeviceKind:
		p, ok := smschannel.NormalizePhone(address)
		if !ok {
			return ciba.Device{}, errBadAddress
		}
		return ciba.Device{ID: p, Kind: smschannel.DeviceKind}, nil
	case deviceKindApp:
		return ciba.Device{ID: "/ciba", Kind: deviceKindApp}, nil
	}
	return ciba.Device{}, errUnknownAction
}

// accountError says what went wrong on the account page, and what to do.
func accountError(err error) (int, pageError) {
	switch {
	case errors.Is(err, errBadAddress):
		return http.StatusBadRequest, pageError{What: "That is not an e-mail address or a phone number we can send to.", Next: "Type an e-mail address like ana@example.com, or a phone number with its country code, like +1 555 010 0004."}
	case errors.Is(err, ciba.ErrInvalidDevice):
		return http.StatusBadRequest, pageError{What: "That name cannot be used.", Next: "Use at most 64 characters, without line breaks."}
	case errors.Is(err, ciba.ErrTooManyDevices):
		return http.StatusBadRequest, pageError{What: "You have as many devices as allowed.", Next: "Remove one before adding another."}
	case errors.Is(err, ciba.ErrDeviceNotFound):
		return http.StatusNotFound, pageError{What: "That device is not linked to your account (any more).", Next: "Nothing was changed; the list below is current."}
	case errors.Is(err, ciba.ErrWeakUserCode):
		return http.StatusBadRequest, pageError{What: "That user code is too short or too long.", Next: "Choose 4 to 64 characters that others cannot guess."}
	case errors.Is(err, errUnknownAction):
		return http.StatusBadRequest, pageError{What: "Nothing was changed.", Next: "Use the buttons on this page."}
	}
	return http.StatusInternalServerError, pageError{What: "Something went wrong on our side, and nothing was changed.", Next: "Try again in a moment."}
}
