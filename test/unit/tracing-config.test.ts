import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/errors.ts';

const base = { NODE_ENV: 'test', DATA_DIR: 'memory://' };

/** The OTEL_* keys Gatehouse reads itself are checked at boot with the rest of the configuration (OPS-01). */
describe('tracing configuration', () => {
  it('is off without OTEL_EXPORTER_OTLP_ENDPOINT, whatever else is set', () => {
    expect(loadConfig({ ...base, OTEL_SERVICE_NAME: 'idp', OTEL_TRACES_SAMPLER: 'always_on' }).tracing).toBeUndefined();
  });

  it('is on with an endpoint, with the standard defaults', () => {
    expect(loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' }).tracing).toEqual({
      endpoint: 'http://otel-collector:4318',
      serviceName: undefined,
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
    expect(
      loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com', OTEL_SERVICE_NAME: 'idp', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing,
    ).toEqual({ endpoint: 'https://otlp.example.com', serviceName: 'idp', sampler: 'parentbased_traceidratio', samplerRatio: 0.25 });
  });

  it('refuses a malformed endpoint, an unknown sampler and a ratio outside 0..1, all at once', () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({ ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://collector:4317', OTEL_TRACES_SAMPLER: 'jaeger_remote', OTEL_TRACES_SAMPLER_ARG: '2' });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems = error.problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^OTEL_EXPORTER_OTLP_ENDPOINT:/),
        expect.stringMatching(/^OTEL_TRACES_SAMPLER:/),
        expect.stringMatching(/^OTEL_TRACES_SAMPLER_ARG:/),
      ]),
    );
  });
});
