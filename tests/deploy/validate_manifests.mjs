// Offline validation of idem's rendered Kubernetes manifests.
//
//   node validate_manifests.mjs --node-modules DIR [--expect-error REGEX] FILE...
//   node validate_manifests.mjs --node-modules DIR --kustomizations DIR
//
// FILE is a multi-document YAML file, as `kubectl kustomize` prints it. Each
// object is checked three ways:
//   1. against the Kubernetes OpenAPI schema, with the npm package
//      kubernetes-models (types, required fields, formats);
//   2. for unknown fields, which that schema lets through: a table of the
//      fields each kind and sub-object may have (SHAPES below), so that a
//      misspelt key is an error instead of being dropped by the API server;
//   3. for idem's own rules: names and namespaces, selectors against
//      template labels, probes on the gRPC ports, Service target ports that
//      the container declares, the restricted security context, settings
//      from the ConfigMap, the database URL from a Secret, a grace period
//      longer than the drain, ingress from labelled namespaces only, a
//      migration Job named after the image's tag, the database connections
//      that every pod's pool needs at full scale, the CloudNativePG Cluster,
//      Pooler and ScheduledBackup (CRDs, which kubernetes-models does not
//      know) with their "<cluster>-app" Secret, backups and monitoring, and
//      the Prometheus Operator's PodMonitor and PrometheusRule (schemas of
//      @kubernetes-models/prometheus-operator; every PromQL expression, also
//      of the Grafana dashboard, parsed with @prometheus-io/lezer-promql and
//      naming only metrics the server exports: --server-metrics).
// Exit 0 when everything holds, 1 with one line per problem otherwise.
// With --expect-error the meaning turns round: exit 0 only when validation
// fails and one of its messages matches REGEX (the tests' broken fixtures).
// --kustomizations checks every kustomization.yaml under DIR for the
// deprecated fields (bases, patchesStrategicMerge, commonLabels, ...).

import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const args = process.argv.slice(2);
let nodeModules = null;
let expectError = null;
let kustomizationsDir = null;
let serverConfig = null;
let serverMetrics = null;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--node-modules") nodeModules = args[++i];
  else if (args[i] === "--expect-error") expectError = new RegExp(args[++i]);
  else if (args[i] === "--kustomizations") kustomizationsDir = args[++i];
  else if (args[i] === "--server-config") serverConfig = args[++i];
  else if (args[i] === "--server-metrics") serverMetrics = args[++i];
  else files.push(args[i]);
}
if (!nodeModules) {
  console.error("validate_manifests: --node-modules DIR is required");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(nodeModules), "node_modules", "noop.js"));
const YAML = require("yaml");

const problems = [];
const problem = (where, message) => problems.push(`${where}: ${message}`);

function finish(what) {
  if (expectError) {
    const hit = problems.find((p) => expectError.test(p));
    if (hit) {
      console.log(`validate_manifests: rejected as expected: ${hit}`);
      process.exit(0);
    }
    console.error(`validate_manifests: FAIL: expected an error matching ${expectError}, got ` +
      (problems.length ? `only:\n  ${problems.join("\n  ")}` : "none"));
    process.exit(1);
  }
  if (problems.length) {
    console.error(`validate_manifests: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`validate_manifests: OK: ${what}`);
  process.exit(0);
}

// ---------------------------------------------------------------- kustomizations
if (kustomizationsDir) {
  const deprecated = ["bases", "patchesStrategicMerge", "patchesJson6902", "commonLabels",
    "vars", "imageTags"];
  let count = 0;
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/^kustomization\.ya?ml$/.test(entry)) {
        count++;
        const doc = YAML.parse(readFileSync(full, "utf8"));
        for (const key of deprecated) {
          if (doc && key in doc) problem(full, `deprecated field "${key}": use resources, patches, labels`);
        }
        if (!["Kustomization", "Component"].includes(doc?.kind)) problem(full, "kind must be Kustomization or Component");
      }
    }
  };
  walk(kustomizationsDir);
  if (count === 0) problem(kustomizationsDir, "no kustomization.yaml found");
  finish(`${count} kustomization files use no deprecated field`);
}

// ---------------------------------------------------------------- loading
const objects = [];
for (const file of files) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  for (const doc of YAML.parseAllDocuments(text, { uniqueKeys: true })) {
    if (doc.errors.length) {
      for (const e of doc.errors) problem(file, `YAML: ${e.message}`);
      continue;
    }
    const obj = doc.toJS();
    if (obj === null || obj === undefined) continue;
    objects.push(obj);
  }
}
if (objects.length === 0) problem(files.join(" ") || "(no file)", "no object to validate");

const id = (o) => `${o?.kind ?? "?"}/${o?.metadata?.name ?? "?"}`;
const isPlain = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// ---------------------------------------------------------------- 1. schemas
function schemaValidate(o) {
  const [group, version] = o.apiVersion?.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  if (group === "postgresql.cnpg.io") return; // own checks below
  const modulePath = group === "monitoring.coreos.com"
    ? `@kubernetes-models/prometheus-operator/${group}/${version}`
    : group ? `kubernetes-models/${group}/${version}` : `kubernetes-models/${version}`;
  let mod;
  try {
    mod = require(modulePath);
  } catch {
    problem(id(o), `unknown apiVersion ${o.apiVersion}`);
    return;
  }
  const Model = mod[o.kind];
  if (typeof Model !== "function") {
    problem(id(o), `kind ${o.kind} does not exist in ${o.apiVersion}`);
    return;
  }
  try {
    new Model(o).validate();
  } catch (e) {
    problem(id(o), `schema: ${String(e.message ?? e).replace(/\s+/g, " ")}`);
  }
}

// ---------------------------------------------------------------- 2. unknown fields
// A shape is an object of field -> shape, "map" (any keys, scalar values),
// "any" (not inspected here), or [shape] for a list of that shape.
const ANY = "any";
const MAP = "map";
const selector = { matchLabels: MAP, matchExpressions: ANY };
const objectMeta = {
  name: ANY, namespace: ANY, labels: MAP, annotations: MAP, generateName: ANY,
  finalizers: ANY, ownerReferences: ANY,
};
const probe = {
  grpc: { port: ANY, service: ANY }, httpGet: ANY, tcpSocket: ANY, exec: ANY,
  initialDelaySeconds: ANY, periodSeconds: ANY, timeoutSeconds: ANY, successThreshold: ANY,
  failureThreshold: ANY, terminationGracePeriodSeconds: ANY,
};
const seccomp = { type: ANY, localhostProfile: ANY };
const containerSecurity = {
  runAsNonRoot: ANY, runAsUser: ANY, runAsGroup: ANY, allowPrivilegeEscalation: ANY,
  readOnlyRootFilesystem: ANY, privileged: ANY, capabilities: { add: ANY, drop: ANY },
  seccompProfile: seccomp, seLinuxOptions: ANY, windowsOptions: ANY, procMount: ANY,
  appArmorProfile: ANY,
};
const podSecurity = {
  runAsNonRoot: ANY, runAsUser: ANY, runAsGroup: ANY, fsGroup: ANY, fsGroupChangePolicy: ANY,
  seccompProfile: seccomp, supplementalGroups: ANY, supplementalGroupsPolicy: ANY, sysctls: ANY,
  seLinuxOptions: ANY, seLinuxChangePolicy: ANY, windowsOptions: ANY, appArmorProfile: ANY,
};
const keyRef = { name: ANY, key: ANY, optional: ANY };
const container = {
  name: ANY, image: ANY, imagePullPolicy: ANY, command: ANY, args: ANY, workingDir: ANY,
  ports: [{ name: ANY, containerPort: ANY, protocol: ANY, hostPort: ANY, hostIP: ANY }],
  envFrom: [{ configMapRef: { name: ANY, optional: ANY }, secretRef: { name: ANY, optional: ANY }, prefix: ANY }],
  env: [{
    name: ANY, value: ANY,
    valueFrom: { secretKeyRef: keyRef, configMapKeyRef: keyRef, fieldRef: ANY, resourceFieldRef: ANY },
  }],
  resources: { requests: MAP, limits: MAP, claims: ANY },
  resizePolicy: ANY, restartPolicy: ANY,
  volumeMounts: [{
    name: ANY, mountPath: ANY, readOnly: ANY, subPath: ANY, subPathExpr: ANY,
    mountPropagation: ANY, recursiveReadOnly: ANY,
  }],
  volumeDevices: ANY, livenessProbe: probe, readinessProbe: probe, startupProbe: probe,
  lifecycle: ANY, terminationMessagePath: ANY, terminationMessagePolicy: ANY,
  securityContext: containerSecurity, stdin: ANY, stdinOnce: ANY, tty: ANY,
};
const volume = {
  name: ANY, emptyDir: { medium: ANY, sizeLimit: ANY },
  persistentVolumeClaim: { claimName: ANY, readOnly: ANY },
  secret: { secretName: ANY, defaultMode: ANY, items: [{ key: ANY, path: ANY, mode: ANY }], optional: ANY },
  configMap: { name: ANY, defaultMode: ANY, items: [{ key: ANY, path: ANY, mode: ANY }], optional: ANY },
  projected: ANY, downwardAPI: ANY, csi: ANY, ephemeral: ANY,
};
const podSpec = {
  containers: [container], initContainers: [container], volumes: [volume],
  serviceAccountName: ANY, serviceAccount: ANY, automountServiceAccountToken: ANY,
  securityContext: podSecurity, terminationGracePeriodSeconds: ANY, restartPolicy: ANY,
  topologySpreadConstraints: [{
    maxSkew: ANY, topologyKey: ANY, whenUnsatisfiable: ANY, labelSelector: selector,
    minDomains: ANY, matchLabelKeys: ANY, nodeAffinityPolicy: ANY, nodeTaintsPolicy: ANY,
  }],
  affinity: ANY, tolerations: ANY, nodeSelector: MAP, priorityClassName: ANY, priority: ANY,
  imagePullSecrets: ANY, dnsPolicy: ANY, dnsConfig: ANY, enableServiceLinks: ANY,
  hostNetwork: ANY, hostPID: ANY, hostIPC: ANY, shareProcessNamespace: ANY, schedulerName: ANY,
  runtimeClassName: ANY, activeDeadlineSeconds: ANY, preemptionPolicy: ANY, hostname: ANY,
  subdomain: ANY, hostAliases: ANY, readinessGates: ANY, overhead: ANY, os: ANY,
  setHostnameAsFQDN: ANY, hostUsers: ANY, schedulingGates: ANY, resourceClaims: ANY, nodeName: ANY,
};
const podTemplate = { metadata: objectMeta, spec: podSpec };
const hpaRules = {
  stabilizationWindowSeconds: ANY, selectPolicy: ANY, tolerance: ANY,
  policies: [{ type: ANY, value: ANY, periodSeconds: ANY }],
};
const top = (extra) => ({ apiVersion: ANY, kind: ANY, metadata: objectMeta, ...extra });
const SHAPES = {
  Namespace: top({ spec: ANY }),
  ServiceAccount: top({ automountServiceAccountToken: ANY, imagePullSecrets: ANY, secrets: ANY }),
  ConfigMap: top({ data: MAP, binaryData: MAP, immutable: ANY }),
  Secret: top({ type: ANY, data: MAP, stringData: MAP, immutable: ANY }),
  Deployment: top({
    spec: {
      replicas: ANY, selector, template: podTemplate, revisionHistoryLimit: ANY,
      minReadySeconds: ANY, progressDeadlineSeconds: ANY, paused: ANY,
      strategy: { type: ANY, rollingUpdate: { maxUnavailable: ANY, maxSurge: ANY } },
    },
  }),
  Job: top({
    spec: {
      template: podTemplate, backoffLimit: ANY, activeDeadlineSeconds: ANY,
      ttlSecondsAfterFinished: ANY, completions: ANY, parallelism: ANY, completionMode: ANY,
      suspend: ANY, podFailurePolicy: ANY, backoffLimitPerIndex: ANY, maxFailedIndexes: ANY,
      podReplacementPolicy: ANY, manualSelector: ANY, selector, successPolicy: ANY, managedBy: ANY,
    },
  }),
  Service: top({
    spec: {
      type: ANY, selector: MAP, clusterIP: ANY, clusterIPs: ANY, publishNotReadyAddresses: ANY,
      ports: [{ name: ANY, port: ANY, targetPort: ANY, protocol: ANY, appProtocol: ANY, nodePort: ANY }],
      sessionAffinity: ANY, sessionAffinityConfig: ANY, externalTrafficPolicy: ANY,
      internalTrafficPolicy: ANY, ipFamilies: ANY, ipFamilyPolicy: ANY, loadBalancerClass: ANY,
      loadBalancerSourceRanges: ANY, loadBalancerIP: ANY, externalIPs: ANY, externalName: ANY,
      healthCheckNodePort: ANY, allocateLoadBalancerNodePorts: ANY, trafficDistribution: ANY,
    },
  }),
  PodDisruptionBudget: top({
    spec: { minAvailable: ANY, maxUnavailable: ANY, selector, unhealthyPodEvictionPolicy: ANY },
  }),
  HorizontalPodAutoscaler: top({
    spec: {
      scaleTargetRef: { apiVersion: ANY, kind: ANY, name: ANY },
      minReplicas: ANY, maxReplicas: ANY,
      metrics: [{
        type: ANY,
        resource: { name: ANY, target: { type: ANY, averageUtilization: ANY, averageValue: ANY, value: ANY } },
        containerResource: ANY, pods: ANY, object: ANY, external: ANY,
      }],
      behavior: { scaleUp: hpaRules, scaleDown: hpaRules },
    },
  }),
  NetworkPolicy: top({
    spec: {
      podSelector: selector, policyTypes: ANY, egress: ANY,
      ingress: [{
        ports: [{ port: ANY, protocol: ANY, endPort: ANY }],
        from: [{ namespaceSelector: selector, podSelector: selector, ipBlock: ANY }],
      }],
    },
  }),
  PersistentVolumeClaim: top({
    spec: {
      accessModes: ANY, volumeMode: ANY, resources: { requests: MAP, limits: MAP },
      storageClassName: ANY, selector, dataSource: ANY, dataSourceRef: ANY, volumeName: ANY,
      volumeAttributesClassName: ANY,
    },
  }),
  // CloudNativePG's Cluster (postgresql.cnpg.io/v1): the fields of its spec
  // that this project may use; anything else is most likely a typo.
  Cluster: top({
    spec: {
      description: ANY, instances: ANY, imageName: ANY, imageCatalogRef: ANY, imagePullPolicy: ANY,
      imagePullSecrets: ANY, primaryUpdateStrategy: ANY, primaryUpdateMethod: ANY,
      bootstrap: {
        initdb: {
          database: ANY, owner: ANY, secret: ANY, options: ANY, encoding: ANY, locale: ANY,
          localeCollate: ANY, localeCType: ANY, localeProvider: ANY, icuLocale: ANY, icuRules: ANY,
          builtinLocale: ANY, dataChecksums: ANY, walSegmentSize: ANY, import: ANY,
          postInitSQL: ANY, postInitApplicationSQL: ANY, postInitTemplateSQL: ANY,
          postInitSQLRefs: ANY, postInitApplicationSQLRefs: ANY, postInitTemplateSQLRefs: ANY,
        },
        recovery: ANY, pg_basebackup: ANY,
      },
      postgresql: {
        parameters: MAP, pg_hba: ANY, pg_ident: ANY, shared_preload_libraries: ANY,
        syncReplicaElectionConstraint: ANY, synchronous: ANY, ldap: ANY, promotionTimeout: ANY,
        enableAlterSystem: ANY, extensions: ANY,
      },
      storage: { size: ANY, storageClass: ANY, resizeInUseVolumes: ANY, pvcTemplate: ANY },
      walStorage: { size: ANY, storageClass: ANY, resizeInUseVolumes: ANY, pvcTemplate: ANY },
      resources: { requests: MAP, limits: MAP, claims: ANY },
      monitoring: {
        enablePodMonitor: ANY, customQueriesConfigMap: ANY, customQueriesSecret: ANY,
        disableDefaultQueries: ANY, podMonitorMetricRelabelings: ANY, podMonitorRelabelings: ANY,
        tls: ANY,
      },
      affinity: ANY, topologySpreadConstraints: ANY, priorityClassName: ANY, schedulerName: ANY,
      backup: {
        retentionPolicy: ANY, target: ANY, volumeSnapshot: ANY,
        barmanObjectStore: {
          destinationPath: ANY, endpointURL: ANY, endpointCA: ANY, serverName: ANY,
          s3Credentials: { accessKeyId: keyRef, secretAccessKey: keyRef, region: keyRef, sessionToken: keyRef, inheritFromIAMRole: ANY },
          azureCredentials: ANY, googleCredentials: ANY, historyTags: ANY, tags: ANY,
          wal: { compression: ANY, encryption: ANY, maxParallel: ANY },
          data: { compression: ANY, encryption: ANY, jobs: ANY, immediateCheckpoint: ANY },
        },
      },
      externalClusters: ANY, replica: ANY, superuserSecret: ANY,
      enableSuperuserAccess: ANY, certificates: ANY, minSyncReplicas: ANY, maxSyncReplicas: ANY,
      managed: ANY, inheritedMetadata: ANY, env: ANY, envFrom: ANY, logLevel: ANY,
      nodeMaintenanceWindow: ANY, startDelay: ANY, stopDelay: ANY, smartShutdownTimeout: ANY,
      switchoverDelay: ANY, failoverDelay: ANY, livenessProbeTimeout: ANY, postgresUID: ANY,
      postgresGID: ANY, serviceAccountTemplate: ANY, projectedVolumeTemplate: ANY,
      ephemeralVolumeSource: ANY, ephemeralVolumesSizeLimit: ANY, seccompProfile: ANY,
      tablespaces: ANY, enablePDB: ANY, plugins: ANY, probes: ANY,
    },
  }),
  Pooler: top({
    spec: {
      cluster: { name: ANY }, instances: ANY, type: ANY, template: ANY, deploymentStrategy: ANY,
      serviceTemplate: ANY, monitoring: { enablePodMonitor: ANY, podMonitorMetricRelabelings: ANY, podMonitorRelabelings: ANY },
      pgbouncer: { poolMode: ANY, parameters: MAP, authQuery: ANY, authQuerySecret: ANY, pg_hba: ANY, paused: ANY },
    },
  }),
  ScheduledBackup: top({
    spec: {
      schedule: ANY, cluster: { name: ANY }, backupOwnerReference: ANY, immediate: ANY, suspend: ANY,
      target: ANY, method: ANY, online: ANY, onlineConfiguration: ANY, pluginConfiguration: ANY,
    },
  }),
  // The Prometheus Operator's schemas let unknown fields through too.
  PodMonitor: top({
    spec: {
      selector, namespaceSelector: ANY, jobLabel: ANY, podTargetLabels: ANY, sampleLimit: ANY,
      podMetricsEndpoints: [{
        port: ANY, path: ANY, interval: ANY, scrapeTimeout: ANY, scheme: ANY, honorLabels: ANY,
        relabelings: ANY, metricRelabelings: ANY, params: ANY, tlsConfig: ANY, bearerTokenSecret: ANY,
        basicAuth: ANY, authorization: ANY,
      }],
    },
  }),
  PrometheusRule: top({
    spec: {
      groups: [{
        name: ANY, interval: ANY, limit: ANY, partial_response_strategy: ANY,
        rules: [{ alert: ANY, record: ANY, expr: ANY, for: ANY, keep_firing_for: ANY, labels: MAP, annotations: MAP }],
      }],
    },
  }),
};

function checkShape(where, value, shape) {
  if (shape === ANY || value === null || value === undefined) return;
  if (shape === MAP) {
    if (!isPlain(value)) return problem(where, "must be a map");
    for (const [k, v] of Object.entries(value)) {
      if (isPlain(v) || Array.isArray(v)) problem(`${where}.${k}`, "must be a scalar");
    }
    return;
  }
  if (Array.isArray(shape)) {
    if (!Array.isArray(value)) return problem(where, "must be a list");
    value.forEach((item, i) => checkShape(`${where}[${i}]`, item, shape[0]));
    return;
  }
  if (!isPlain(value)) return problem(where, "must be an object");
  for (const [k, v] of Object.entries(value)) {
    if (!(k in shape)) problem(where, `unknown field "${k}"`);
    else checkShape(`${where}.${k}`, v, shape[k]);
  }
}

// ---------------------------------------------------------------- 3. idem's rules
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding",
  "PersistentVolume", "StorageClass", "CustomResourceDefinition", "PriorityClass"]);
// Section 4a of the brief, plus the drain/connection settings and the
// plaintext health listener the deployment relies on, plus (with
// --server-config service/config.cc) every flag the server declares in
// kFlagNames: IDEM_<FLAG NAME IN CAPITALS>.
const SETTINGS = new Set(["IDEM_LISTEN", "IDEM_DATABASE_URL", "IDEM_TABLES", "IDEM_STORAGE_ROOT",
  "IDEM_KEY_RETENTION", "IDEM_POOL_SIZE", "IDEM_METRICS_LISTEN", "IDEM_TLS_CERT", "IDEM_TLS_KEY",
  "IDEM_TLS_CLIENT_CA", "IDEM_ALLOW_PLAINTEXT", "IDEM_AUTH_TOKENS", "IDEM_DRAIN_DELAY",
  "IDEM_SHUTDOWN_GRACE", "IDEM_MAX_CONNECTION_AGE", "IDEM_HEALTH_LISTEN"]);
let serverSettings = null;
if (serverConfig) {
  const text = readFileSync(serverConfig, "utf8");
  const block = text.match(/kFlagNames\[\]\s*=\s*\{([^}]*)\}/);
  if (!block) problem(serverConfig, "no kFlagNames[] = {...} list of flags found");
  else {
    serverSettings = new Set([...block[1].matchAll(/"([a-z0-9_]+)"/g)].map((m) => `IDEM_${m[1].toUpperCase()}`));
    for (const s of serverSettings) SETTINGS.add(s);
  }
}
function warnUnknownToServer(names) {
  if (!serverSettings) return;
  for (const n of names) {
    if (!serverSettings.has(n)) {
      console.log(`validate_manifests: WARNING: ${n} is used by the manifests but ${serverConfig} does not declare it yet`);
    }
  }
}
const DEFAULTS = { IDEM_DRAIN_DELAY: "5s", IDEM_SHUTDOWN_GRACE: "20s", IDEM_LISTEN: "0.0.0.0:50051" };

function seconds(text) {  // "1m30s", "500ms", "24h" -> seconds; NaN when malformed
  const units = { h: 3600, m: 60, s: 1, ms: 0.001 };
  const parts = String(text).match(/(\d+(?:\.\d+)?)(ms|h|m|s)/g);
  if (!parts || parts.join("") !== String(text)) return NaN;
  return parts.reduce((sum, p) => {
    const [, n, u] = p.match(/(\d+(?:\.\d+)?)(ms|h|m|s)/);
    return sum + Number(n) * units[u];
  }, 0);
}
const portOf = (address) => Number(String(address).split(":").pop());
const matches = (sel, labels) =>
  isPlain(sel) && Object.keys(sel).length > 0 &&
  Object.entries(sel).every(([k, v]) => labels?.[k] === v);

function checkMetadata(objs) {
  const seen = new Set();
  const namespaces = new Set();
  for (const o of objs) {
    const name = o.metadata?.name;
    if (!name) { problem(id(o), "metadata.name missing"); continue; }
    const nameRule = ["Namespace", "Service"].includes(o.kind) ? DNS_LABEL : DNS_SUBDOMAIN;
    if (!nameRule.test(name) || name.length > 63) problem(id(o), `invalid name "${name}"`);
    const key = `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${name}`;
    if (seen.has(key)) problem(id(o), "defined twice");
    seen.add(key);
    if (CLUSTER_SCOPED.has(o.kind)) {
      if (o.metadata.namespace) problem(id(o), "cluster-scoped object with a namespace");
    } else if (!o.metadata.namespace) {
      problem(id(o), "metadata.namespace missing");
    } else {
      namespaces.add(o.metadata.namespace);
    }
  }
  if (namespaces.size > 1) problem("(all)", `objects spread over namespaces ${[...namespaces].join(", ")}`);
  for (const ns of objs.filter((o) => o.kind === "Namespace")) {
    if (namespaces.size && !namespaces.has(ns.metadata.name)) {
      problem(id(ns), `Namespace does not match the objects' namespace ${[...namespaces][0]}`);
    }
  }
}

function checkPodSecurity(where, spec) {
  const pod = spec?.securityContext ?? {};
  if (pod.runAsNonRoot !== true) problem(where, "pod securityContext.runAsNonRoot must be true");
  if (pod.seccompProfile?.type !== "RuntimeDefault") problem(where, "pod seccompProfile must be RuntimeDefault");
  if (pod.runAsUser === 0) problem(where, "pod runs as root (runAsUser 0)");
  if (spec?.automountServiceAccountToken !== false) problem(where, "automountServiceAccountToken must be false");
  for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
    const w = `${where} container ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.allowPrivilegeEscalation !== false) problem(w, "allowPrivilegeEscalation must be false");
    if (sc.readOnlyRootFilesystem !== true) problem(w, "readOnlyRootFilesystem must be true");
    if (sc.privileged === true) problem(w, "privileged container");
    if (sc.runAsUser === 0) problem(w, "runs as root (runAsUser 0)");
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) problem(w, "capabilities must drop ALL");
    if ((sc.capabilities?.add ?? []).length) problem(w, "adds capabilities");
    if (sc.seccompProfile && sc.seccompProfile.type !== "RuntimeDefault") problem(w, "seccompProfile must be RuntimeDefault");
    for (const kind of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) {
        if (!c.resources?.[kind]?.[r]) problem(w, `resources.${kind}.${r} missing`);
      }
    }
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    for (const m of c.volumeMounts ?? []) {
      if (!volumes.has(m.name)) problem(w, `volumeMount "${m.name}" has no volume`);
    }
    const tmp = (c.volumeMounts ?? []).find((m) => m.mountPath === "/tmp");
    if (!tmp || !volumes.get(tmp.name)?.emptyDir) problem(w, "/tmp must be an emptyDir (read-only root filesystem)");
  }
}

function checkEnv(where, c, byKindName, config) {
  for (const ref of c.envFrom ?? []) {
    if (ref.configMapRef && !byKindName.get(`ConfigMap/${ref.configMapRef.name}`)) {
      problem(where, `envFrom ConfigMap "${ref.configMapRef.name}" is not part of the manifests`);
    }
  }
  // The URL from a Secret, or a literal without a password beside a
  // PGPASSWORD from a Secret (libpq reads it).
  const db = (c.env ?? []).find((e) => e.name === "IDEM_DATABASE_URL");
  const fromSecret = (e) => Boolean(e?.valueFrom?.secretKeyRef?.name && e.valueFrom.secretKeyRef.key);
  const password = (c.env ?? []).find((e) => e.name === "PGPASSWORD");
  if (!db) problem(where, "IDEM_DATABASE_URL not set");
  else if (!fromSecret(db)) {
    if (typeof db.value !== "string" || /password\s*=|:\/\/[^/@]*:[^/@]*@/.test(db.value) || !fromSecret(password)) {
      problem(where, "IDEM_DATABASE_URL must come from a Secret (secretKeyRef), or hold no password with PGPASSWORD from a Secret");
    }
  }
  if (password && !fromSecret(password)) problem(where, "PGPASSWORD must come from a Secret");
  if ("IDEM_DATABASE_URL" in config) problem(where, "IDEM_DATABASE_URL must not be in a ConfigMap");
  for (const e of c.env ?? []) {
    if (e.name.startsWith("IDEM_") && !SETTINGS.has(e.name)) problem(where, `unknown setting ${e.name}`);
  }
}

function checkIdem(objs) {
  const byKindName = new Map(objs.map((o) => [`${o.kind}/${o.metadata?.name}`, o]));
  const ofKind = (k) => objs.filter((o) => o.kind === k);
  const one = (k, filter = () => true) => {
    const found = ofKind(k).filter(filter);
    if (found.length !== 1) problem("(all)", `expected exactly one ${k}, found ${found.length}`);
    return found[0];
  };
  const deployment = one("Deployment");
  const job = one("Job");
  one("PodDisruptionBudget");
  one("HorizontalPodAutoscaler");
  one("NetworkPolicy");
  const clusterIp = one("Service", (s) => s.spec?.clusterIP !== "None");
  const headless = one("Service", (s) => s.spec?.clusterIP === "None");
  if (!deployment) return;

  const dw = id(deployment);
  const spec = deployment.spec ?? {};
  const podLabels = spec.template?.metadata?.labels ?? {};
  if (!matches(spec.selector?.matchLabels, podLabels)) problem(dw, "selector.matchLabels does not match the template's labels");
  if (spec.selector?.matchExpressions) problem(dw, "selector.matchExpressions: keep the selector to matchLabels");
  if (!(spec.replicas >= 2)) problem(dw, "replicas must be at least 2");
  const pod = spec.template?.spec ?? {};
  checkPodSecurity(dw, pod);
  const c = pod.containers?.[0];
  if (!c || pod.containers.length !== 1) { problem(dw, "expected exactly one container"); return; }

  // Settings: one ConfigMap of IDEM_* names.
  const cmRef = (c.envFrom ?? []).find((r) => r.configMapRef)?.configMapRef?.name;
  const cm = cmRef && byKindName.get(`ConfigMap/${cmRef}`);
  if (!cm) problem(dw, "settings must come from a ConfigMap through envFrom");
  const config = { ...(cm?.data ?? {}) };
  for (const k of Object.keys(config)) {
    if (!SETTINGS.has(k)) problem(id(cm), `unknown setting ${k} (not an IDEM_* name of the brief)`);
  }
  checkEnv(dw, c, byKindName, config);
  warnUnknownToServer(Object.keys(config));
  const setting = (k) => config[k] ?? DEFAULTS[k];

  // Ports and probes.
  const ports = new Map((c.ports ?? []).map((p) => [p.name, p.containerPort]));
  const portNumbers = new Set((c.ports ?? []).map((p) => p.containerPort));
  if (!ports.has("grpc")) problem(dw, 'no container port named "grpc"');
  if (!ports.has("metrics")) problem(dw, 'no container port named "metrics"');
  if (portOf(setting("IDEM_LISTEN")) !== ports.get("grpc")) problem(dw, "IDEM_LISTEN's port is not the grpc container port");
  if (!config.IDEM_METRICS_LISTEN) problem(dw, "IDEM_METRICS_LISTEN not set");
  else if (portOf(config.IDEM_METRICS_LISTEN) !== ports.get("metrics")) problem(dw, "IDEM_METRICS_LISTEN's port is not the metrics container port");
  const grpcPorts = new Set([ports.get("grpc")]);
  if (ports.has("health")) {
    if (!config.IDEM_HEALTH_LISTEN || portOf(config.IDEM_HEALTH_LISTEN) !== ports.get("health")) {
      problem(dw, "a health port needs IDEM_HEALTH_LISTEN on that port");
    }
    grpcPorts.add(ports.get("health"));
  }
  const tls = Boolean(config.IDEM_TLS_CERT);
  if (!tls && config.IDEM_ALLOW_PLAINTEXT !== "true") problem(dw, "neither TLS (IDEM_TLS_CERT) nor IDEM_ALLOW_PLAINTEXT=true: the server would refuse to start");
  if (Boolean(config.IDEM_TLS_CERT) !== Boolean(config.IDEM_TLS_KEY)) problem(dw, "IDEM_TLS_CERT and IDEM_TLS_KEY go together");
  for (const name of ["startupProbe", "readinessProbe", "livenessProbe"]) {
    const p = c[name];
    if (!p) { problem(dw, `${name} missing`); continue; }
    if (!p.grpc) { problem(dw, `${name} must be a native grpc probe`); continue; }
    const port = p.grpc.port;
    if (!grpcPorts.has(port)) problem(dw, `${name} uses port ${port}, not a gRPC port of the container`);
    if (tls && port === ports.get("grpc")) problem(dw, `${name} on the TLS port: kubelet gRPC probes are plaintext, use the health port`);
  }

  // Files the settings point at must be mounted.
  const mounts = c.volumeMounts ?? [];
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const mountedAt = (file) => mounts.find((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`));
  for (const k of ["IDEM_TLS_CERT", "IDEM_TLS_KEY", "IDEM_TLS_CLIENT_CA", "IDEM_AUTH_TOKENS"]) {
    if (config[k] && !mountedAt(config[k])) problem(dw, `${k}=${config[k]} is on no mounted volume`);
  }
  // CopyFile's storage (components/copy-file-storage) or none at all.
  const root = config.IDEM_STORAGE_ROOT;
  const claimed = new Set();
  if (root) {
    const m = mountedAt(root);
    const claim = m && volumes.get(m.name)?.persistentVolumeClaim?.claimName;
    if (!claim) problem(dw, "IDEM_STORAGE_ROOT must be on a PersistentVolumeClaim volume");
    else if (!byKindName.get(`PersistentVolumeClaim/${claim}`)) problem(dw, `PersistentVolumeClaim "${claim}" is not part of the manifests`);
    else claimed.add(claim);
  }
  for (const pvc of ofKind("PersistentVolumeClaim")) {
    if (!claimed.has(pvc.metadata.name)) problem(id(pvc), "is not IDEM_STORAGE_ROOT's volume: nothing uses it");
  }

  // Drain: SIGTERM -> NOT_SERVING, serve IDEM_DRAIN_DELAY, finish within IDEM_SHUTDOWN_GRACE,
  // and 3 s more when the database stopped answering (the server's backstop).
  const drain = seconds(setting("IDEM_DRAIN_DELAY")) + seconds(setting("IDEM_SHUTDOWN_GRACE")) + 3;
  if (Number.isNaN(drain)) problem(dw, "IDEM_DRAIN_DELAY or IDEM_SHUTDOWN_GRACE is not a duration");
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  if (!(grace > drain)) problem(dw, `terminationGracePeriodSeconds ${grace} must exceed drain delay + shutdown grace + 3 s (${drain}s)`);
  if (config.IDEM_MAX_CONNECTION_AGE && Number.isNaN(seconds(config.IDEM_MAX_CONNECTION_AGE))) problem(dw, "IDEM_MAX_CONNECTION_AGE is not a duration");
  if (config.IDEM_KEY_RETENTION && Number.isNaN(seconds(config.IDEM_KEY_RETENTION))) problem(dw, "IDEM_KEY_RETENTION is not a duration");

  // Services.
  for (const svc of [clusterIp, headless].filter(Boolean)) {
    const sw = id(svc);
    if (!matches(svc.spec?.selector, podLabels)) problem(sw, "selector does not match the Deployment's pod labels");
    if ((svc.spec?.type ?? "ClusterIP") !== "ClusterIP") problem(sw, "must be of type ClusterIP");
    for (const p of svc.spec?.ports ?? []) {
      const t = p.targetPort ?? p.port;
      const ok = typeof t === "string" ? ports.has(t) : portNumbers.has(t);
      if (!ok) problem(sw, `targetPort ${t} is not a port of the container`);
    }
    const targetsGrpc = (svc.spec?.ports ?? []).some((p) => (p.targetPort ?? p.port) === "grpc" || (p.targetPort ?? p.port) === ports.get("grpc"));
    if (!targetsGrpc) problem(sw, "has no port to gRPC");
  }
  if (headless && (headless.spec?.ports ?? []).some((p) => p.port !== ports.get("grpc") && p.name === "grpc")) {
    problem(id(headless), "the headless grpc port must equal the container's, clients dial it directly");
  }

  // Migration Job.
  if (job) {
    const jw = id(job);
    const jpod = job.spec?.template?.spec ?? {};
    checkPodSecurity(jw, jpod);
    const jc = jpod.containers?.[0];
    if (!jc || !(jc.args ?? []).includes("migrate") && !(jc.command ?? []).includes("migrate")) problem(jw, "must run `idem-server migrate`");
    if (jc && jc.image !== c.image) problem(jw, `image ${jc?.image} differs from the server's ${c.image}`);
    // A Job's template cannot change: each release needs a Job of its own.
    const tag = String(c.image ?? "").split(":")[1];
    if (!tag || job.metadata.name !== `idem-migrate-${tag}`) problem(jw, `name must be idem-migrate-<image tag> (idem-migrate-${tag}), so that every release applies a new Job`);
    if (!(job.spec?.ttlSecondsAfterFinished > 0)) problem(jw, "ttlSecondsAfterFinished must be set: finished Jobs of past releases delete themselves");
    if (jc) checkEnv(jw, jc, byKindName, config);
    if (!["OnFailure", "Never"].includes(jpod.restartPolicy)) problem(jw, "restartPolicy must be OnFailure or Never");
  }

  // Disruption budget, autoscaler, network policy.
  for (const o of [...ofKind("PodDisruptionBudget"), ...ofKind("NetworkPolicy")]) {
    const sel = o.kind === "NetworkPolicy" ? o.spec?.podSelector?.matchLabels : o.spec?.selector?.matchLabels;
    if (!matches(sel, podLabels)) problem(id(o), "selector does not match the Deployment's pod labels");
  }
  for (const pdb of ofKind("PodDisruptionBudget")) {
    if (pdb.spec?.maxUnavailable === undefined && pdb.spec?.minAvailable === undefined) problem(id(pdb), "needs minAvailable or maxUnavailable");
    if (typeof pdb.spec?.minAvailable === "number" && pdb.spec.minAvailable >= spec.replicas) problem(id(pdb), "minAvailable blocks every eviction");
  }
  for (const hpa of ofKind("HorizontalPodAutoscaler")) {
    const hw = id(hpa);
    if (hpa.apiVersion !== "autoscaling/v2") problem(hw, "must be autoscaling/v2");
    const ref = hpa.spec?.scaleTargetRef ?? {};
    if (ref.kind !== "Deployment" || ref.name !== deployment.metadata.name || ref.apiVersion !== "apps/v1") problem(hw, "scaleTargetRef is not the Deployment");
    if (!(hpa.spec?.minReplicas >= 2)) problem(hw, "minReplicas must be at least 2");
    if (!(hpa.spec?.maxReplicas >= hpa.spec?.minReplicas)) problem(hw, "maxReplicas below minReplicas");
    if (!(hpa.spec?.metrics ?? []).some((m) => m.type === "Resource" && m.resource?.name === "cpu")) problem(hw, "needs a CPU resource metric");
  }
  for (const np of ofKind("NetworkPolicy")) {
    const nw = id(np);
    if (!(np.spec?.policyTypes ?? []).includes("Ingress")) problem(nw, "policyTypes must include Ingress");
    const allowed = new Set([ports.get("grpc"), ports.get("metrics"), "grpc", "metrics"]);
    const opened = new Set();
    for (const rule of np.spec?.ingress ?? []) {
      if (!rule.ports?.length) { problem(nw, "an ingress rule without ports opens every port"); continue; }
      for (const p of rule.ports) {
        if (!allowed.has(p.port) || p.endPort) problem(nw, `ingress opens port ${p.port}${p.endPort ? `-${p.endPort}` : ""}: only the gRPC and metrics ports may be open`);
        opened.add(typeof p.port === "string" ? ports.get(p.port) : p.port);
      }
    }
    for (const name of ["grpc", "metrics"]) {
      if (!opened.has(ports.get(name))) problem(nw, `ingress does not open the ${name} port`);
    }
    // Sources: namespaces chosen by label, never "any namespace"; the
    // metrics port (tenant names in its labels) for the monitoring
    // namespace alone.
    for (const [i, rule] of (np.spec?.ingress ?? []).entries()) {
      const rw = `${nw} ingress[${i}]`;
      if (!rule.from?.length) { problem(rw, "has no from: admits every namespace"); continue; }
      const metrics = (rule.ports ?? []).some((p) => p.port === "metrics" || p.port === ports.get("metrics"));
      for (const peer of rule.from) {
        const labels = peer.namespaceSelector?.matchLabels ?? {};
        if (peer.ipBlock) problem(rw, "ipBlock sources: select namespaces by label");
        else if (!Object.keys(labels).length) problem(rw, "a source without namespaceSelector.matchLabels admits any namespace");
        else if (metrics && Object.keys(labels).join() !== "kubernetes.io/metadata.name") {
          problem(rw, "the metrics port is for the monitoring namespace only (namespaceSelector on kubernetes.io/metadata.name)");
        }
      }
    }
  }

  // CloudNativePG: the URL from the Cluster's "<name>-app" Secret (key "uri",
  // or "password" through a Pooler), backups, metrics.
  for (const cluster of ofKind("Cluster")) {
    const cw = id(cluster);
    const cs = cluster.spec ?? {};
    if (cluster.apiVersion !== "postgresql.cnpg.io/v1") problem(cw, "apiVersion must be postgresql.cnpg.io/v1");
    if (!Number.isInteger(cs.instances) || cs.instances < 1) problem(cw, "spec.instances must be a positive integer");
    else if (cs.instances < 2) problem(cw, "spec.instances below 2 gives no failover");
    if (!/^\d+(\.\d+)?(Ki|Mi|Gi|Ti)?$/.test(String(cs.storage?.size ?? ""))) problem(cw, "spec.storage.size must be a quantity such as 20Gi");
    if (cs.primaryUpdateStrategy && !["unsupervised", "supervised"].includes(cs.primaryUpdateStrategy)) problem(cw, "primaryUpdateStrategy must be unsupervised or supervised");
    for (const [k, v] of Object.entries(cs.postgresql?.parameters ?? {})) {
      if (typeof v !== "string") problem(cw, `postgresql.parameters.${k} must be a string (quote it)`);
    }
    const app = `${cluster.metadata.name}-app`;
    const refOf = (w, name) => (w.spec.template.spec.containers[0].env ?? []).find((e) => e.name === name)?.valueFrom?.secretKeyRef;
    if (job) {
      const ref = refOf(job, "IDEM_DATABASE_URL");
      if (ref?.name !== app || ref?.key !== "uri") problem(id(job), `IDEM_DATABASE_URL must come from Secret ${app} key uri (CloudNativePG)`);
    }
    const viaPooler = poolerOf(deployment, objs);
    const ref = viaPooler ? refOf(deployment, "PGPASSWORD") : refOf(deployment, "IDEM_DATABASE_URL");
    if (ref?.name !== app || ref?.key !== (viaPooler ? "password" : "uri")) {
      problem(dw, viaPooler ? `PGPASSWORD must come from Secret ${app} key password (CloudNativePG)` : `IDEM_DATABASE_URL must come from Secret ${app} key uri (CloudNativePG)`);
    }
    // Backups (WAL archive and base backups) and metrics.
    const store = cs.backup?.barmanObjectStore;
    if (!store?.destinationPath) problem(cw, "spec.backup.barmanObjectStore.destinationPath missing: no backups");
    else {
      const creds = store.s3Credentials ?? {};
      if (!store.azureCredentials && !store.googleCredentials &&
          !(creds.inheritFromIAMRole || (creds.accessKeyId?.name && creds.secretAccessKey?.name))) {
        problem(cw, "the backup object store needs credentials from a Secret");
      }
    }
    if (!cs.backup?.retentionPolicy) problem(cw, "spec.backup.retentionPolicy missing");
    if (!ofKind("ScheduledBackup").some((b) => b.spec?.cluster?.name === cluster.metadata.name)) problem(cw, "no ScheduledBackup takes base backups of it");
    if (cs.monitoring?.enablePodMonitor !== true) problem(cw, "monitoring.enablePodMonitor must be true");
  }
  for (const b of ofKind("ScheduledBackup")) {
    if (!byKindName.get(`Cluster/${b.spec?.cluster?.name}`)) problem(id(b), "spec.cluster.name is not a Cluster of the manifests");
    if (String(b.spec?.schedule ?? "").trim().split(/\s+/).length !== 6) problem(id(b), "schedule must have six fields (seconds first)");
  }
  for (const pooler of ofKind("Pooler")) {
    const pw = id(pooler);
    if (!byKindName.get(`Cluster/${pooler.spec?.cluster?.name}`)) problem(pw, "spec.cluster.name is not a Cluster of the manifests");
    if (pooler.spec?.type !== "rw") problem(pw, "type must be rw: idem writes");
    if (pooler.spec?.pgbouncer?.poolMode !== "transaction") problem(pw, "pgbouncer.poolMode must be transaction");
  }
  checkConnections(deployment, objs, config, ofKind);
  checkMonitoring(objs, podLabels, ports);
}

// The database connections idem needs at full scale: every pod (the HPA's
// maximum plus the rollout's surge) opens IDEM_POOL_SIZE connections and
// one for its health check; the migration Job one more. Through a Pooler
// they are PgBouncer's clients, and its server connections count instead.
// With the replay cache on (IDEM_REPLAY_CACHE_BYTES not 0), every pod's
// forget listener holds one more session, which must be PostgreSQL's own
// (IDEM_NOTIFY_DATABASE_URL, else IDEM_DATABASE_URL): never a Pooler's.
function poolerOf(deployment, objs, variable = "IDEM_DATABASE_URL") {
  const url = (deployment.spec.template.spec.containers[0].env ?? []).find((e) => e.name === variable)?.value ?? "";
  const host = url.match(/(?:^|\s)host=(\S+)/)?.[1] ?? url.match(/^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^:/?]+)/)?.[1];
  return host && objs.find((o) => o.kind === "Pooler" && o.metadata.name === host.split(".")[0]);
}

function notifyUrlSet(deployment) {
  return (deployment.spec.template.spec.containers[0].env ?? []).some((e) => e.name === "IDEM_NOTIFY_DATABASE_URL");
}

function checkConnections(deployment, objs, config, ofKind) {
  const dw = id(deployment);
  const pool = Number(config.IDEM_POOL_SIZE);
  if (!Number.isInteger(pool) || pool < 1) { problem(dw, "IDEM_POOL_SIZE must be set: the database's connections are counted from it"); return; }
  // Unset, the server sizes its threads from the CPUs it sees (README):
  // set with the pool, a connection for every thread that holds one.
  const threads = Number(config.IDEM_WORKERS) + Number(config.IDEM_BATCH_THREADS);
  if (!(threads <= pool)) problem(dw, `IDEM_WORKERS + IDEM_BATCH_THREADS (${config.IDEM_WORKERS} + ${config.IDEM_BATCH_THREADS}) must be set and at most IDEM_POOL_SIZE ${pool}: threads beyond the pool wait for each other's connections`);
  const hpa = ofKind("HorizontalPodAutoscaler")[0];
  const surge = deployment.spec?.strategy?.rollingUpdate?.maxSurge;
  const pods = (hpa?.spec?.maxReplicas ?? deployment.spec?.replicas ?? 1) + (Number.isInteger(surge) ? surge : 1);
  const clients = pods * (pool + 1);
  const listeners = config.IDEM_REPLAY_CACHE_BYTES === "0" ? 0 : pods;
  const fits = (need, have, what) => {
    if (!(need <= have)) problem(dw, `connections: ${need} needed but ${have} available (${what})`);
  };
  const cluster = ofKind("Cluster")[0];
  const params = cluster?.spec?.postgresql?.parameters ?? {};
  const serverConnections = cluster &&
    Number(params.max_connections ?? 100) - Number(params.superuser_reserved_connections ?? 3);
  const pooler = poolerOf(deployment, objs);
  if (listeners && (poolerOf(deployment, objs, "IDEM_NOTIFY_DATABASE_URL") || (pooler && !notifyUrlSet(deployment)))) {
    problem(dw, "the replay cache's forget listener LISTENs: IDEM_NOTIFY_DATABASE_URL must reach PostgreSQL, not a Pooler (or IDEM_REPLAY_CACHE_BYTES=0)");
  }
  const listening = listeners ? ` + ${listeners} forget listeners` : "";
  if (pooler) {
    const bouncer = pooler.spec?.pgbouncer?.parameters ?? {};
    if (config.IDEM_PREPARED_STATEMENTS !== "false") problem(dw, "through PgBouncer in transaction mode IDEM_PREPARED_STATEMENTS must be false");
    fits(clients, Number(bouncer.max_client_conn ?? 100), `${pods} pods x (IDEM_POOL_SIZE ${pool} + 1) against one Pooler instance's max_client_conn`);
    const server = (pooler.spec?.instances ?? 1) * (Number(bouncer.default_pool_size ?? 20) + Number(bouncer.reserve_pool_size ?? 0));
    if (serverConnections) fits(server + 1 + listeners, serverConnections, `${pooler.spec?.instances ?? 1} Pooler instances x default_pool_size + 1 migration${listening} against max_connections less the superuser's reserve`);
  } else if (serverConnections) {
    fits(clients + listeners + 1, serverConnections, `${pods} pods x (IDEM_POOL_SIZE ${pool} + 1)${listening} + 1 migration against max_connections less the superuser's reserve`);
  } else {
    const declared = Number(deployment.metadata?.annotations?.["idem.dev/database-connections"]);
    if (!Number.isInteger(declared)) problem(dw, 'annotation idem.dev/database-connections missing: the connections the database grants idem');
    else fits(clients + listeners + 1, declared, `${pods} pods x (IDEM_POOL_SIZE ${pool} + 1)${listening} + 1 migration against idem.dev/database-connections`);
  }
}

// Metric names the server exports (--server-metrics: the source that
// names them), with a histogram's series.
let exported = null;
if (serverMetrics) {
  const text = readFileSync(serverMetrics, "utf8");
  exported = new Set();
  for (const [, name] of text.matchAll(/"(idem_[a-z_]+)"/g)) {
    for (const suffix of ["", "_bucket", "_sum", "_count"]) exported.add(name + suffix);
  }
}

function checkPromQL(where, expr) {
  if (typeof expr !== "string" || !expr.trim()) { problem(where, "expression missing"); return; }
  const tree = promql().parse(expr);
  let broken = false;
  tree.iterate({
    enter: (node) => {
      if (node.type.isError) broken = true;
      if (node.name === "Identifier" && exported) {
        const name = expr.slice(node.from, node.to);
        if (!exported.has(name)) problem(where, `metric ${name} is not exported by the server`);
      }
    },
  });
  if (broken) problem(where, `PromQL does not parse: ${expr.replace(/\s+/g, " ")}`);
}
let promqlParser = null;
const promql = () => (promqlParser ??= require("@prometheus-io/lezer-promql").parser);

function checkMonitoring(objs, podLabels, ports) {
  for (const pm of objs.filter((o) => o.kind === "PodMonitor")) {
    if (!matches(pm.spec?.selector?.matchLabels, podLabels)) problem(id(pm), "selector does not match the Deployment's pod labels");
    for (const ep of pm.spec?.podMetricsEndpoints ?? []) {
      if (ports.get(ep.port) === undefined || ep.port !== "metrics") problem(id(pm), `endpoint port ${ep.port} is not the container's metrics port`);
    }
  }
  for (const rule of objs.filter((o) => o.kind === "PrometheusRule")) {
    for (const group of rule.spec?.groups ?? []) {
      for (const r of group.rules ?? []) {
        const rw = `${id(rule)} ${r.alert ?? r.record ?? "?"}`;
        checkPromQL(rw, r.expr);
        if (r.alert) {
          if (!r.labels?.severity) problem(rw, "labels.severity missing");
          if (!r.annotations?.summary) problem(rw, "annotations.summary missing");
          if (!r.for) problem(rw, "for missing: one bad scrape would page");
        }
      }
    }
  }
  for (const cm of objs.filter((o) => o.kind === "ConfigMap" && o.metadata?.labels?.grafana_dashboard)) {
    for (const [file, text] of Object.entries(cm.data ?? {})) {
      let dash;
      try { dash = JSON.parse(text); } catch (e) { problem(`${id(cm)} ${file}`, `not JSON: ${e.message}`); continue; }
      if (!dash.uid || !dash.title || !Array.isArray(dash.panels) || !dash.panels.length) problem(`${id(cm)} ${file}`, "a dashboard needs uid, title and panels");
      for (const panel of dash.panels ?? []) {
        for (const target of panel.targets ?? []) checkPromQL(`${id(cm)} panel "${panel.title}"`, target.expr);
        // A rate is no duration: in a panel whose unit is time, a rate's
        // series needs a unit of its own (an override for its refId).
        const timeUnits = new Set(["s", "ms", "µs", "ns", "m", "h", "d"]);
        if (timeUnits.has(panel.fieldConfig?.defaults?.unit)) {
          for (const target of panel.targets ?? []) {
            const own = (panel.fieldConfig.overrides ?? []).some((o) =>
              o.matcher?.id === "byFrameRefID" && o.matcher?.options === target.refId &&
              (o.properties ?? []).some((p) => p.id === "unit"));
            if (/\brate\(/.test(target.expr ?? "") && !/histogram_quantile/.test(target.expr) && !own) {
              problem(`${id(cm)} panel "${panel.title}"`, `target ${target.refId} is a rate shown in the panel's time unit`);
            }
          }
        }
      }
    }
  }
}

for (const o of objects) {
  if (!isPlain(o)) { problem("(document)", "not a mapping"); continue; }
  if (!o.apiVersion || !o.kind) { problem(id(o), "apiVersion and kind are required"); continue; }
  schemaValidate(o);
  const shape = SHAPES[o.kind];
  if (!shape) problem(id(o), `kind ${o.kind} is not expected in idem's manifests`);
  else checkShape(id(o), o, shape);
}
if (objects.length) {
  checkMetadata(objects);
  checkIdem(objects);
}
finish(`${objects.length} objects in ${files.join(", ")}`);
