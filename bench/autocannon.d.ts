/** The part of autocannon's API bench/service.bench.ts uses (the package ships no types). */
declare module 'autocannon' {
  interface Histogram {
    readonly average: number
    readonly total: number
    readonly p50: number
    readonly p99: number
  }
  interface Result {
    readonly requests: Histogram
    readonly latency: Histogram
    readonly errors: number
    readonly timeouts: number
    readonly non2xx: number
  }
  interface Options {
    readonly url: string
    readonly connections?: number
    readonly duration?: number
    readonly requests?: readonly {
      readonly method?: string
      readonly setupRequest?: (
        request: Record<string, unknown>,
        context: Record<string, unknown>,
      ) => Record<string, unknown>
    }[]
  }
  export default function autocannon(options: Options): Promise<Result>
}
