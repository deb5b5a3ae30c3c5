export const handler = async (): Promise<never> => {
  throw new Error('placeholder: written on another branch');
};
