"""The Shopify Admin GraphQL API: a real GraphQL server over the shop's own schema.

`simulator` serves it, `schema`/`schema.graphql` define it, `resolvers` and `mutations`
answer it, `cost` charges and throttles it, `bulk` runs bulk operations, `search`,
`connection` and `validation` do what Shopify's query layer does, `shop` holds the data.
"""
