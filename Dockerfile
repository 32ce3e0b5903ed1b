FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /referral-ledger ./cmd/referral-ledger

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /referral-ledger /referral-ledger
ENTRYPOINT ["/referral-ledger"]
CMD ["serve"]
