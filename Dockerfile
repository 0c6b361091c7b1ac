# Build stage: compile TypeScript to JavaScript.
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY machines ./machines
COPY pipelines ./pipelines
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled JavaScript and production dependencies only.
FROM node:20.20-bookworm-slim
ENV NODE_ENV=production LOG_DIR=/var/log/sitewire
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /var/log/sitewire && chown node:node /var/log/sitewire
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
