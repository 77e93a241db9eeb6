import { useState } from 'preact/hooks'
import { plural } from './components'

/** A file input that also takes a dropped file; the native input keeps it keyboard reachable. */
export function FileDrop(props: {
  label: string
  file: File | null
  onFile(f: File | null): void
}) {
  const [over, setOver] = useState(false)
  return (
    <label
      class={over ? 'drop over' : 'drop'}
      onDragOver={(e) => {
        e.preventDefault()
        setOver(true)
      }}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault()
        setOver(false)
        props.onFile(e.dataTransfer?.files[0] ?? null)
      }}
    >
      {props.label}
      <input
        type="file"
        accept=".parquet,.csv,.jsonl,text/csv,application/vnd.apache.parquet"
        onChange={(e) => props.onFile(e.currentTarget.files?.[0] ?? null)}
      />
      <span class="muted">
        {props.file
          ? `${props.file.name} (${plural(props.file.size.toLocaleString(), 'byte')})`
          : 'or drop a file here'}
      </span>
    </label>
  )
}
