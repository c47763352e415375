# syntax=docker/dockerfile:1
# gemini-chat-gateway: `docker build -t gemini-chat-gateway .`
# Stage 1 compiles TypeScript with the dev dependencies; stage 2 installs production dependencies only; the final
# image holds dist/, those node_modules, the price table, the dashboards and the LICENSE, and runs as the unprivileged
# `node` user.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.web.json ./
COPY src ./src
COPY web ./web
RUN npm run build

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --chown=root:root package.json LICENSE ./
COPY --chown=root:root --from=prod-deps /app/node_modules ./node_modules
COPY --chown=root:root --from=build /app/dist ./dist
COPY --chown=root:root pricing ./pricing
COPY --chown=root:root dashboards ./dashboards
COPY --chown=root:root examples ./examples
COPY --chown=root:root web/index.html web/style.css ./web/
USER node
EXPOSE 8080
# Node's own fetch: the slim image has no curl or wget.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM reaches node directly (exec form): the gateway drains in-flight requests, then exits 0.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
