"""The Shopify Admin GraphQL API: a real GraphQL server over the shop's own schema.

`simulator` serves it; `reference` builds each API version's schema from Shopify's own schema
dump and `versions`' documented changes, cut to what `schema.graphql` names; `schema` makes it
executable; `resolvers` and `mutations` answer it, `scopes` refuses what the token may not see,
`cost` charges and throttles it, `bulk` runs bulk operations, `search`, `connection` and
`validation` do what Shopify's query layer does, `shop` holds the data.
"""
