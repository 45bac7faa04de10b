export type FieldType = 'string' | 'number' | 'object' | 'array';

/** The fields of `entry` that are missing or not of their type, each as a short sentence. */
export function checkFields(entry: Record<string, unknown>, fields: Record<string, FieldType>): string[] {
  const problems: string[] = [];
  for (const [name, type] of Object.entries(fields)) {
    const value = entry[name];
    if (value === undefined || value === null) problems.push(`'${name}' missing`);
    else if (
      type === 'array'
        ? !Array.isArray(value)
        : type === 'object'
          ? typeof value !== 'object' || Array.isArray(value)
          : typeof value !== type
    ) {
      problems.push(`'${name}' is not ${type === 'array' || type === 'object' ? 'an' : 'a'} ${type}`);
    }
  }
  return problems;
}
