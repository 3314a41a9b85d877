# syntax=docker/dockerfile:1
# Build: a static binary, no cgo.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION names the build in `loyalty version` and loyalty_build_info.
ARG VERSION=devel
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${VERSION}" -o /loyalty ./cmd/loyalty

# Run: distroless, no shell, non-root (uid 65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /loyalty /loyalty
# A writable working directory for the embedded store's default data dir when
# no Redis/ClickHouse is configured.
WORKDIR /home/nonroot
USER nonroot:nonroot
# Listen on every interface of the container (the default is loopback).
ENV LOYALTY_HTTP_ADDR=:8080
EXPOSE 8080
# No shell or curl in the image: the binary probes itself (/readyz).
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["/loyalty", "healthcheck"]
ENTRYPOINT ["/loyalty"]
CMD ["serve"]
