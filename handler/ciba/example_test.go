package ciba_test

import (
	"fmt"

	"github.com/ory/fosite"

	"github.com/fosite-contrib/grants/handler/ciba"
)

// A client's CIBA registration, read the same way whether it is a DefaultClient or a client whose
// metadata map came back from a store.
func ExampleMetadataOf() {
	c := &ciba.DefaultClient{
		DefaultOpenIDConnectClient:            &fosite.DefaultOpenIDConnectClient{DefaultClient: &fosite.DefaultClient{ID: "bank-app"}},
		BackchannelTokenDeliveryMode:          ciba.ModePing,
		BackchannelClientNotificationEndpoint: "https://bank.example/cb",
	}
	md, _ := ciba.MetadataOf(c)
	fmt.Println(md.TokenDeliveryMode, md.ClientNotificationEndpoint)
	fmt.Println(c.GetMetadata()[ciba.MetaTokenDeliveryMode])
	// Output:
	// ping https://bank.example/cb
	// ping
}
