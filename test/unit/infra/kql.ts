/**
 * A small KQL checker on Microsoft's Kusto language service, for the queries the
 * Bicep deploys (Sentinel rule, workbook, DCR transform): analyses a query
 * against given table schemas and returns its diagnostics and result columns.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports */

/** Log Analytics column types as infra/findings-table.json spells them. */
export type ColumnType = 'string' | 'datetime' | 'long' | 'int' | 'real' | 'bool' | 'boolean' | 'dynamic' | 'guid';
export type Schemas = Record<string, ReadonlyArray<{ name: string; type: string }>>;

export interface Diagnostic {
  severity: string;
  message: string;
  /** The query text the diagnostic points at. */
  text: string;
}

let kusto: any;
function language(): any {
  if (!kusto) {
    require('@kusto/language-service-next/bridge.js');
    require('@kusto/language-service-next/Kusto.Language.Bridge.js');
    kusto = (globalThis as any).Kusto.Language;
  }
  return kusto;
}

function scalar(type: string): any {
  const T = language().Symbols.ScalarTypes;
  const map: Record<string, any> = {
    string: T.String,
    datetime: T.DateTime,
    long: T.Long,
    int: T.Int,
    real: T.Real,
    bool: T.Bool,
    boolean: T.Bool,
    dynamic: T.Dynamic,
    guid: T.Guid,
  };
  if (!map[type]) throw new Error(`unknown column type '${type}'`);
  return map[type];
}

function analyse(query: string, schemas: Schemas): any {
  const K = language();
  const S = K.Symbols;
  const tables = Object.entries(schemas).map(
    ([name, cols]) =>
      new S.TableSymbol.$ctor4(
        name,
        cols.map((c) => new S.ColumnSymbol(c.name, scalar(c.type))),
      ),
  );
  const globals = K.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.ctor('workspace', tables));
  return K.KustoCode.ParseAndAnalyze(query, globals);
}

/** Every diagnostic (errors and warnings) of `query`. */
export function diagnostics(query: string, schemas: Schemas): Diagnostic[] {
  const code = analyse(query, schemas);
  const diags: any[] = (globalThis as any).Bridge.toArray(code.GetDiagnostics());
  return diags.map((d) => ({
    severity: String(d.Severity),
    message: String(d.Message),
    text: query.substr(d.Start, d.Length),
  }));
}

/** Names of the result columns of a tabular query. */
export function resultColumns(query: string, schemas: Schemas): string[] {
  const result = analyse(query, schemas).ResultType;
  if (!result || !result.Columns) return [];
  return (globalThis as any).Bridge.toArray(result.Columns).map((c: any) => String(c.Name));
}
