package hydragrants

import (
	"context"
	"fmt"
	"sync"

	"github.com/ory/fosite"
	fcompose "github.com/ory/fosite/compose"
	"github.com/ory/hydra/v2/fositex"
	"github.com/ory/hydra/v2/persistence"
)

// Grants composes this module's grants into a Hydra server. Hydra calls the factories given to
// driver.WithExtraFositeFactories (or RegistrySQL.WithExtraFositeFactories) with its fosite
// configuration, its persister as the storage and its token strategy; Factory adapts one of this
// module's factories (compose.DeviceGrant.Factory, compose.CIBAGrant.Factory, compose.OTPGrant.Factory)
// so that its grant gets a Store instead: this module's tables in Hydra's database, Hydra's tokens and
// clients.
//
//	var g hydragrants.Grants
//	device := compose.NewDeviceGrant(rfc8628.Options{…})
//	reg.WithExtraFositeFactories([]fositex.Factory{g.Factory(device.Factory)})
//	// once Hydra has composed its provider: device.Authorization, device.Verifier, g.Store()
//
// The first factory to run opens the Store and, unless SkipMigrations is set, applies this module's
// migrations; a failure panics, as a factory given the wrong storage does, so that a misconfigured
// server fails at start-up. The zero Grants is ready to use; do not copy it once in use.
type Grants struct {
	// SkipMigrations makes the factories open the Store without applying this module's migrations
	// (apply them in a deploy step, with sqlstore.Store.Migrate on Hydra's database).
	SkipMigrations bool

	mu    sync.Mutex
	store *Store
}

// Factory returns f as a Hydra factory whose grant is stored in a Store on Hydra's persister.
func (g *Grants) Factory(f fcompose.Factory) fositex.Factory {
	return func(config fosite.Configurator, storage interface{}, strategy interface{}) interface{} {
		p, ok := storage.(persistence.Persister)
		if !ok {
			panic(fmt.Sprintf("hydragrants: a factory needs Hydra's persister (persistence.Persister) as its storage, got %T", storage))
		}
		s, err := g.open(p)
		if err != nil {
			panic(fmt.Sprintf("hydragrants: %v", err))
		}
		return f(config, s, strategy)
	}
}

// open returns the Store on p, opening it the first time.
func (g *Grants) open(p persistence.Persister) (*Store, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.store != nil {
		if g.store.hydra != p {
			return nil, fmt.Errorf("the factories of one Grants were composed with two persisters")
		}
		return g.store, nil
	}
	s, err := NewStore(context.Background(), p, !g.SkipMigrations)
	if err != nil {
		return nil, err
	}
	g.store = s
	return s, nil
}

// Store returns the Store the factories composed their grants with; nil before the first factory ran.
func (g *Grants) Store() *Store {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.store
}
