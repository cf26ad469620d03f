# syntax=docker/dockerfile:1
#
# tickwire in one image: the gateway (the default command) and the tickwire-feed Kafka producer
# (node dist/feeds/src/cli.js ...). Build: docker build -t tickwire .
#   docker run -p 9001:9001 tickwire                               (embedded market feed)
#   docker run -p 9001:9001 -e TICKWIRE_SOURCE=kafka -e TICKWIRE_KAFKA_BROKERS=host:9092 tickwire
#   docker run tickwire node dist/feeds/src/cli.js sim --brokers host:9092 --rate 2000
# docker-compose.yml runs Kafka + gateway + feed together.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: every dependency, compile TypeScript to dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# ---- runtime: production dependencies and the compiled gateway + feeds only
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/protocol ./dist/protocol
COPY --from=build /app/dist/gateway ./dist/gateway
COPY --from=build /app/dist/feeds ./dist/feeds
COPY --from=build /app/dist/web ./dist/web
# The recorded sample, for `node dist/feeds/src/cli.js replay feeds/data/sample-ticks.ndjson`.
COPY feeds/data ./feeds/data

USER node
EXPOSE 9001
# Slim images have no curl: probe /healthz with Node's fetch (on TICKWIRE_PORT if it is set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TICKWIRE_PORT || 9001) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/gateway/src/main.js"]
