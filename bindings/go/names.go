package ocireg

import "regexp"

// The grammar of names, from the OCI distribution spec ("Pulling manifests") and the image
// spec ("Digests"); the same expressions as the Go seed's registry package. The library checks
// more besides: a repository is at most 255 characters, and it computes and accepts only
// sha256 (64 hex digits) and sha512 (128) digests.
const (
	repositoryExpr = `[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*`
	tagExpr        = `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
	digestExpr     = `[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+`
)

// Regular expressions matching a whole repository name ("team/app"), tag ("v1.2") and digest
// ("sha256:…").
var (
	RepositoryRegexp = regexp.MustCompile(`^` + repositoryExpr + `$`)
	TagRegexp        = regexp.MustCompile(`^` + tagExpr + `$`)
	DigestRegexp     = regexp.MustCompile(`^` + digestExpr + `$`)
)
