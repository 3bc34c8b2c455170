# paygate's container image: the static binary, CA certificates and the
# empty directories it writes to, run as an unprivileged numeric user.
#
#   make image                      # docker or podman, whichever exists
#   docker build -t paygate .
#
# Run it with the Caddyfile mounted at /etc/paygate/Caddyfile and the
# environment deploy/Caddyfile documents; on Kubernetes see
# deploy/kubernetes/. The root file system may be read-only: paygate writes
# only to $XDG_DATA_HOME (/var/lib/paygate: certificates, the persisted
# policy bundle, Caddy's autosaved config) and /tmp.

FROM golang:1.26 AS build
WORKDIR /src
# The module graph first, so that a source change does not download it again.
# GOFLAGS=-mod=readonly: the build fails rather than changing go.mod; paygate
# is the main module here, so nothing of its own is fetched and GOPRIVATE is
# not needed (xcaddy builds need GOPRIVATE=github.com/paygate/paygate).
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	go build -trimpath -ldflags='-s -w' -o /out/paygate ./cmd/paygate
# The directories the final stage needs; scratch has no shell to make them.
RUN mkdir -p /out/root/tmp /out/root/etc/paygate /out/data \
	&& chmod 1777 /out/root/tmp \
	&& chmod 0700 /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/root/ /
COPY --from=build --chown=65532:65532 /out/data /var/lib/paygate
COPY --from=build /out/paygate /paygate
ENV XDG_DATA_HOME=/var/lib/paygate XDG_CONFIG_HOME=/var/lib/paygate HOME=/var/lib/paygate
USER 65532:65532
EXPOSE 8443 9180
ENTRYPOINT ["/paygate"]
CMD ["run", "--config", "/etc/paygate/Caddyfile", "--adapter", "caddyfile"]
